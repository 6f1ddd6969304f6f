/*
 * list.h - what vaultctl's list commands (audit list, history) share:
 * their options (--limit N, --json, --csv, --socket PATH, --help) and the
 * printing of the answer's "entries", as JSON, CSV or one table row each.
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
	const char *const *csv;		/* --csv columns (entry keys), NULL-
					 * terminated */
	int	 nargs;			/* operands after the options */
	long long limit;		/* --limit N, else VC_LIST_LIMIT */
	int	 json;			/* --json: the entries as JSON */
	int	 as_csv;		/* --csv: the entries as CSV */
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
 * "entries": with --json as JSON, with --csv as RFC 4180 CSV (a header
 * row of l->csv, then one row per entry; an array or object value as
 * compact JSON), else l->header() (when set) and l->row() for each entry.  Errors name the call as what.  Returns an
 * exit code.
 */
int vc_list_print(const struct vc_list *l, const char *what,
    const char *method, json_t *params);

/*
 * Writes v for a text or CSV cell into buf: a string as is, a number,
 * true/false, "" for null/absent, an array or object as compact JSON
 * (truncated to len).  Returns buf.
 */
const char *vc_cell(const json_t *v, char *buf, size_t len);

#endif
