#include <sodium.h>
#include <sys/prctl.h>

/* prctl is variadic, which Swift does not import: the agent (and nothing
   else) calls this to keep other processes of the same user, debuggers
   included, from reading its memory, and the kernel from dumping it. */
static inline int casevault_forbid_dumps(void) {
    return prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}
