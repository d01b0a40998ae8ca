# written by minitorch-bench --plot; run: gnuplot matmul_backward.gp
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 1400,680 noenhanced font 'DejaVu Sans,11'
} else {
    set terminal png size 1400,680 font 'DejaVuSans,10' noenhanced
}
set output 'matmul_backward.png'
set datafile missing '?'
set grid ytics lc rgb '#dddddd' lw 1
set border 3
set tics nomirror
set key top left box opaque
set multiplot layout 1,2 title 'Forward product vs backward pair (dC B^T and A^T dC), 2 threads'
set logscale x 2
set xrange [48:2800]
set xtics (64, 128, 256, 512, 1024, 2048)
set title 'GFLOP/s by n: forward (solid) vs backward pair (dashed)'
set ylabel 'GFLOP/s'
set yrange [0:*]
set key outside below center horizontal maxrows 3 box
plot 'matmul.dat' using 1:5 with linespoints lw 2 pt 7 lc rgb '#222222' title 'sgemm NN', \
     '' using 1:8 with linespoints lw 2 dt 2 pt 6 lc rgb '#222222' title 'sgemm NT+TN', \
     '' using 1:3 with linespoints lw 2 pt 5 lc rgb '#1f77b4' title 'blas forward', \
     '' using 1:7 with linespoints lw 2 dt 2 pt 4 lc rgb '#1f77b4' title 'blas backward pair', \
     '' using 1:2 with linespoints lw 2 pt 9 lc rgb '#d62728' title 'naive forward', \
     '' using 1:6 with linespoints lw 2 dt 2 pt 8 lc rgb '#d62728' title 'naive backward pair'
set title 'backward pair time / forward time, by n (target <= 2.1)'
set ylabel 'time ratio'
set yrange [0:*]
set key outside below center horizontal maxrows 3 box
plot 2.1 with lines lw 2 dt 3 lc rgb '#2ca02c' title 'target 2.1', \
     'matmul.dat' using 1:11 with linespoints lw 2 pt 7 lc rgb '#222222' title 'direct sgemm', \
     '' using 1:10 with linespoints lw 2 pt 5 lc rgb '#1f77b4' title 'blas', \
     '' using 1:9 with linespoints lw 2 pt 9 lc rgb '#d62728' title 'naive'
unset multiplot
