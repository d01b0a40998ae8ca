# written by minitorch-bench --plot; run: gnuplot matmul_gflops.gp
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
    set terminal pngcairo size 1100,680 noenhanced font 'DejaVu Sans,11'
} else {
    set terminal png size 1100,680 font 'DejaVuSans,10' noenhanced
}
set output 'matmul_gflops.png'
set datafile missing '?'
set grid ytics lc rgb '#dddddd' lw 1
set border 3
set tics nomirror
set key top left box opaque
set title 'Square matmul n x n x n: GFLOP/s by n, 2 threads (median; higher is better)'
set ylabel 'GFLOP/s'
set logscale x 2
set xrange [48:2800]
set yrange [0:*]
set xtics (64, 128, 256, 512, 1024, 2048)
set key outside below center horizontal maxrows 2 box
plot 'matmul.dat' using 1:5 with linespoints lw 3 pt 7 ps 1.3 lc rgb '#222222' title 'direct cblas_sgemm (baseline)', \
     '' using 1:3 with linespoints lw 2 pt 5 ps 1.2 lc rgb '#1f77b4' title 'blas backend, mt_matmul_out', \
     '' using 1:4 with linespoints lw 2 dt 2 pt 4 ps 1.2 lc rgb '#1f77b4' title 'blas backend, mt_matmul (allocating)', \
     '' using 1:2 with linespoints lw 2 pt 9 ps 1.4 lc rgb '#d62728' title 'naive backend (fused, register-tiled)', \
     '' using 1:12 with linespoints lw 2 pt 13 ps 1.3 lc rgb '#ff7f0e' title 'unfused broadcast-mul + sum, n <= 256 (naive)'
