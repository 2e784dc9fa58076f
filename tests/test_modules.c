/*
 * test_modules.c - modules in a machine: models found through their
 * module's descriptor, and the order their .needs imposes.
 */
#include <criterion/criterion.h>
#include <signal.h>

#include "sim/sim.h"

static int attached_with_low;   /* what mid's attach found */

static int low_attach(struct sim *s, struct sim_err *err);
static int mid_attach(struct sim *s, struct sim_err *err);

static const struct sim_module low = { .name = "low", .attach = low_attach };
static const struct sim_module mid = {
	.name = "mid",
	.needs = (const char *const[]){ "low", "absent", NULL },
	.attach = mid_attach,
};
static const struct sim_module other = { .name = "other" };

static int low_model = 42;

static int low_attach(struct sim *s, struct sim_err *err)
{
	(void)err;
	sim_set_model(s, &low, &low_model);
	return 0;
}

static int mid_attach(struct sim *s, struct sim_err *err)
{
	int *m = sim_get_model(s, &low);

	(void)err;
	attached_with_low = m ? *m : -1;
	return 0;
}

Test(modules, a_needed_module_attaches_first_and_is_found)
{
	static const struct sim_module *const mods[] = { &low, &mid, NULL };
	struct sim *s = sim_new(mods);
	struct sim_err err;

	attached_with_low = 0;
	cr_assert_null(sim_get_model(s, &low), "no model before attach");
	cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
	cr_assert_eq(attached_with_low, 42, "mid saw low's model at its attach");
	cr_assert_eq(sim_get_model(s, &low), &low_model);
	cr_assert_null(sim_get_model(s, &mid), "mid set no model");
	cr_assert_null(sim_get_model(s, &other), "a module not in the machine has no model");
	sim_free(s);
}

Test(modules, a_needed_module_may_be_absent)
{
	static const struct sim_module *const mods[] = { &mid, NULL };
	struct sim *s = sim_new(mods);
	struct sim_err err;

	attached_with_low = 0;
	cr_assert_eq(sim_start(s, &err), 0, "%s", err.msg);
	cr_assert_eq(attached_with_low, -1, "mid copes with no low");
	sim_free(s);
}

Test(modules, a_needed_module_after_its_user_aborts, .signal = SIGABRT)
{
	static const struct sim_module *const mods[] = { &mid, &low, NULL };

	sim_new(mods);
}

Test(modules, setting_the_model_of_a_foreign_module_aborts, .signal = SIGABRT)
{
	static const struct sim_module *const mods[] = { &low, NULL };
	struct sim *s = sim_new(mods);

	sim_set_model(s, &other, &low_model);
}
