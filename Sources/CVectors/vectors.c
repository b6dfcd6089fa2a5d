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

int casevault_detect_once(int *cached, int (*detect)(void)) {
    int value = __atomic_load_n(cached, __ATOMIC_RELAXED);
    if (value < 0) {
        value = detect();
        __atomic_store_n(cached, value, __ATOMIC_RELAXED);
    }
    return value;
}

void casevault_count_nested(int *count, int on) {
    if (on) {
        __atomic_add_fetch(count, 1, __ATOMIC_RELAXED);
        return;
    }
    int seen = __atomic_load_n(count, __ATOMIC_RELAXED);
    while (seen > 0 && !__atomic_compare_exchange_n(count, &seen, seen - 1, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {}
}

int casevault_nested_on(const int *count) { return __atomic_load_n(count, __ATOMIC_RELAXED) > 0; }
