/* test_main.c -- runs the CUnit suites: unit tests and packet-level tests.
 *
 *     tests/unit [SUITE]     run every suite, or only SUITE
 *
 * The last line is "unit: N passed, M failed" (tests/run.sh adds it up). */
#include <CUnit/Basic.h>
#include <stdio.h>
#include <string.h>

void register_unit_suites(void);
void register_core_suites(void);
void register_carrier_suites(void);
void register_cc_suites(void);
void register_linkem_suites(void);
void register_sack_suites(void);
void register_rack_suites(void);

int main(int argc, char **argv)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    register_unit_suites();
    register_core_suites();
    register_carrier_suites();
    register_cc_suites();
    register_linkem_suites();
    register_sack_suites();
    register_rack_suites();
    CU_basic_set_mode(CU_BRM_VERBOSE);
    if (argc > 1) {
        CU_pSuite suite = CU_get_suite(argv[1]);
        if (!suite) {
            fprintf(stderr, "no suite named %s\n", argv[1]);
            CU_cleanup_registry();
            return 2;
        }
        CU_basic_run_suite(suite);
    } else {
        CU_basic_run_tests();
    }
    unsigned run = CU_get_number_of_tests_run();
    unsigned failed = CU_get_number_of_tests_failed();
    printf("\nunit: %u passed, %u failed\n", run - failed, failed);
    CU_cleanup_registry();
    return failed ? 1 : 0;
}
