# written by minitorch-bench --plot; run: gnuplot elementwise.gp
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 1400,650 noenhanced font 'DejaVu Sans,11'
} else {
    set terminal png size 1400,650 font 'DejaVuSans,10' noenhanced
}
set output 'elementwise.png'
set datafile missing '?'
set grid ytics lc rgb '#dddddd' lw 1
set border 3
set tics nomirror
set key top left box opaque
set title 'Elementwise ops and sums, 2 threads: library vs the plain C loop doing the same work (median; higher is better)'
set ylabel 'GB/s (bytes read + written)'
set yrange [0:*]
set style data histograms
set style histogram clustered gap 1.5
set style fill solid 0.9 border rgb '#444444'
set boxwidth 0.95
set xtics scale 0
set key outside top center horizontal box
plot 'elementwise.dat' using 2:xtic(1) lc rgb '#555555' title 'plain C loop (baseline)', \
     '' using 3 lc rgb '#d62728' title 'naive, _out', \
     '' using 4 lc rgb '#f4a3a3' title 'naive, allocating', \
     '' using 5 lc rgb '#1f77b4' title 'blas, _out', \
     '' using 6 lc rgb '#9ecae9' title 'blas, allocating'
