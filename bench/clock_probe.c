/* The clock a core runs at, GHz, for bench/speed.py --clock-ghz where the system does not
 * show the boost clock (a virtual machine without cpufreq). x86-64 only.
 *
 * A chain of dependent integer adds runs at one add per cycle (each needs the previous
 * result, and an add's latency is one cycle), so adds / seconds is the clock. The seconds
 * are this thread's CPU time, so time the process waits for a core does not count.
 *
 *     gcc -O2 -o /tmp/clock_probe bench/clock_probe.c
 *     /tmp/clock_probe                                          # one core busy
 *     taskset -c 0 /tmp/clock_probe & taskset -c 1 /tmp/clock_probe & wait   # all cores busy
 */
#include <stdio.h>
#include <time.h>

#define ADD "add $1, %0\n\t"
#define TEN ADD ADD ADD ADD ADD ADD ADD ADD ADD ADD

int main(void) {
    const long turns = 200000000L; /* 20 adds each: 4e9 cycles, about a second */
    unsigned long x = 0;
    struct timespec start, end;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &start);
    for (long i = 0; i < turns; i++) {
        __asm__ volatile(TEN TEN : "+r"(x));
    }
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &end);
    double seconds = (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) * 1e-9;
    printf("%.2f GHz (%lu dependent adds in %.3f s)\n", 20.0 * turns / seconds / 1e9, x, seconds);
    return 0;
}
