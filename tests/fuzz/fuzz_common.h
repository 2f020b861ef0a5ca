/* fuzz_common.h — shared by the fuzz targets: the libFuzzer entry point's
 * prototype (declared so -Wmissing-prototypes is happy in normal builds) and
 * FUZZ_CHECK, which aborts (a finding) when an invariant fails. Aborting is
 * the right reaction in both builds: libFuzzer records the input, the replay
 * test fails.
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
