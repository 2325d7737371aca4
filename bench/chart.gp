set terminal png size 900,560 font ",11"
set output "chart.png"
set title "k8s-ha: pulumi preview against hosts (2 cores (AMD EPYC), 24 GiB memory, Node v24.21.0)"
set xlabel "hosts"
set ylabel "seconds"
set y2label "peak memory, GiB"
set logscale x
set logscale y
set logscale y2
set key top left
set grid
set ytics nomirror
set y2tics
plot "chart.dat" using 1:2 with linespoints lw 2 title "preview time (s)", \
     "chart.dat" using 1:3 axes x1y2 with linespoints lw 2 title "peak memory, all processes (GiB)"
