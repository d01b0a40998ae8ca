# written by minitorch-bench --plot; run: gnuplot train.gp
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 1200,650 noenhanced font 'DejaVu Sans,11'
} else {
    set terminal png size 1200,650 font 'DejaVuSans,10' noenhanced
}
set output 'train.png'
set datafile missing '?'
set grid ytics lc rgb '#dddddd' lw 1
set border 3
set tics nomirror
set key top left box opaque
set title 'MiniTorch Task 3.5 network: time per epoch, 2 threads (median; lower is better; log scale)'
set ylabel 'milliseconds per epoch'
set logscale y
set yrange [0.01:*]
set format y '%g'
set style data histograms
set style histogram clustered gap 1.5
set style fill solid 0.9 border rgb '#444444'
set boxwidth 0.95
set xtics scale 0
set bmargin 5
set key outside top center horizontal box
plot 'train.dat' using ($2*1000):xtic(1) lc rgb '#d62728' title 'naive backend', \
     '' using ($3*1000) lc rgb '#1f77b4' title 'blas backend', \
     '' using ($4*1000) lc rgb '#aaaaaa' title 'PyTorch (reference, not measured here)'
