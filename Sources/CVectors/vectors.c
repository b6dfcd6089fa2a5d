#include "casevault_vectors.h"

#if defined(__x86_64__)
#include <cpuid.h>

int casevault_cpu_vectors(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE)) return 0;
    unsigned low, high;
    __asm__ volatile("xgetbv" : "=a"(low), "=d"(high) : "c"(0));
    if ((low & 0x6) != 0x6 || __get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    if ((b & (1u << 16)) && (low & 0xe6) == 0xe6) return 2;
    return (b & (1u << 5)) ? 1 : 0;
}
#else
int casevault_cpu_vectors(void) { return 0; }
#endif
