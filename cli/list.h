/*
 * list.h - what vaultctl's list commands (audit list, history) share:
 * their options (--limit N, --json, --socket PATH, --help) and the
 * printing of the answer's "entries", as JSON or one table row each.
 */
#ifndef VD_CLI_LIST_H
#define VD_CLI_LIST_H

#include <stdio.h>

#include <jansson.h>

#define VC_LIST_LIMIT	20	/* entries asked for without --limit */
#define VC_LIST_MAX	10000	/* largest --limit */

/* One list command: how it prints, and what its command line asked. */
struct vc_list {
	void	(*usage)(FILE *f);	/* prints the command's usage */
	void	(*header)(void);	/* prints the table's header, or NULL */
	void	(*row)(json_t *e);	/* prints one entry as a table row */
	int	 nargs;			/* operands after the options */
	long long limit;		/* --limit N, else VC_LIST_LIMIT */
	int	 json;			/* --json: the entries as JSON */
};

/*
 * Parses l's options from argv into l->limit and l->json; optind is then
 * the first of the l->nargs operands.  Returns -1 to go on, else the exit
 * code to leave with: VC_EXIT_OK after --help, VC_EXIT_USAGE after the
 * usage or what is wrong was printed.
 */
int vc_list_options(struct vc_list *l, int argc, char **argv);

/*
 * Calls method with params (stolen; may be NULL) and prints the answer's
 * "entries": with --json as JSON, else l->header() (when set) and
 * l->row() for each entry.  Errors name the call as what.  Returns an
 * exit code.
 */
int vc_list_print(const struct vc_list *l, const char *what,
    const char *method, json_t *params);

#endif
