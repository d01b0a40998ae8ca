# written by minitorch-bench --plot; run: gnuplot matmul_batched.gp
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 1100,700 noenhanced font 'DejaVu Sans,11'
} else {
    set terminal png size 1100,700 font 'DejaVuSans,10' noenhanced
}
set output 'matmul_batched.png'
set datafile missing '?'
set grid ytics lc rgb '#dddddd' lw 1
set border 3
set tics nomirror
set key top left box opaque
set title 'Batched products B x s^3 by product side s, 2 threads: batch-parallel 1-thread sgemm vs a loop of 2-thread sgemm'
set ylabel 'GFLOP/s'
set yrange [0:*]
set xrange [-0.5:7.5]
set xtics scale 0
set key outside below center horizontal maxrows 2 box
plot 'matmul_batched.dat' using 1:5:xtic(4) with linespoints lw 2 pt 7 ps 1.3 lc rgb '#222222' title 'loop of 2-thread sgemm (direct)', \
     '' using 1:6 with linespoints lw 2 dt 2 pt 6 ps 1.3 lc rgb '#222222' title 'batch-parallel 1-thread sgemm (direct)', \
     '' using 1:7 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#1f77b4' title 'blas backend mt_matmul_out', \
     '' using 1:8 with linespoints lw 2 pt 9 ps 1.3 lc rgb '#d62728' title 'naive backend mt_matmul_out'
