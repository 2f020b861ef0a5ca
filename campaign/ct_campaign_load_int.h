/* ct_campaign_load_int.h — what the campaign loader's two readers share:
 * the INI reader (ct_campaign_load.c) and the roster reader
 * (ct_roster_load.c). Internal to campaign/. One load context (lctx) holds
 * both readers' state; the first error wins (ct_cload_fail), reported as
 * "name:line: message", and after it nothing else is parsed.
 */
#ifndef CT_CAMPAIGN_LOAD_INT_H
#define CT_CAMPAIGN_LOAD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ct_campaign.h"
#include "ct_ini.h"

#define CT_MAX_DISTRICTS 1024
#define CT_MAX_GROUPS 256
#define CT_MAX_AGENTS 100000
#define CT_MAX_AGENT_TARGET 10000
#define CT_MAX_DISTRICT_TARGET 1000000000u
#define CT_MAX_TOLERANCE_S (30 * 86400)
#define CT_INI_MAX_BYTES (1u << 20)
#define CT_ROSTER_MAX_BYTES (64u << 20)
#define CT_VALUE_MAX 256

typedef enum { SEC_NONE, SEC_CAMPAIGN, SEC_PROGRAM, SEC_DISTRICT, SEC_GROUP, SEC_REORG } sec_kind;

/* One key of [campaign]: raw value and the line it came from. */
typedef struct {
    const char *name;
    char value[CT_VALUE_MAX];
    unsigned line;
} ckey;

enum {
    CK_ID,
    CK_NAME,
    CK_START,
    CK_END,
    CK_TIMEZONE,
    CK_TOLERANCE,
    CK_MAX_FUTURE,
    CK_ROSTER,
    CK_N
};

typedef struct {
    ct_district d;
    unsigned line;
    unsigned name_line;
    unsigned target_line[CT_PROGRAM_COUNT]; /* 0 = default */
    size_t cap_communes;                    /* of d.communes, owned until output */
} xdistrict;

typedef struct {
    ct_group g;
    unsigned line;
    unsigned name_line;
} xgroup;

#define CT_MAX_REORGS 64
#define CT_REORG_ITEMS_MAX 4096 /* map, move and rename lines of one [reorg NAME] */

/* One [reorg NAME] section as read: the lines are kept with their line
 * numbers, checked against the districts and the roster once both are read
 * (ct_cload_reorgs_finish, ct_reorg_load.c). */
typedef struct {
    ct_reorg r;
    unsigned line;
    unsigned label_line;
    unsigned *map_line, *move_line, *rename_line; /* parallel to r.maps, r.moves, r.renames */
    size_t cap_maps, cap_moves, cap_renames;
} xreorg;

typedef struct {
    /* error state */
    bool failed;
    unsigned fail_line;
    ct_err err;
    char *errbuf;
    size_t errlen;
    /* INI reader */
    const char *ini_name;
    ct_ini_src src; /* the INI text: unread part and the current line number */
    /* current section */
    sec_kind sec;
    size_t sec_idx;
    /* [campaign] */
    unsigned campaign_line;
    ckey ck[CK_N];
    /* [program X] */
    unsigned prog_line[CT_PROGRAM_COUNT];
    unsigned agent_target_line[CT_PROGRAM_COUNT];
    uint32_t agent_target[CT_PROGRAM_COUNT];
    /* [district N], [group X] */
    xdistrict *districts;
    size_t n_districts, cap_districts;
    xgroup *groups;
    size_t n_groups, cap_groups;
    /* [reorg NAME] */
    xreorg *reorgs;
    size_t n_reorgs, cap_reorgs;
    /* roster */
    const char *roster_name;
    unsigned rline;    /* current CSV line */
    unsigned rec_line; /* line of the current record */
    size_t nfields;
    bool header_seen;
    char field[4][CT_VALUE_MAX];
    size_t field_len[4];
    ct_agent *agents;
    size_t n_agents, cap_agents;
    /* a row error, held back until duplicates among earlier rows are checked */
    bool row_failed;
    unsigned row_err_line;
    char row_err[CT_VALUE_MAX * 2];
} lctx;

void ct_cload_fail(lctx *c, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void ct_cload_fail_nomem(lctx *c);
/* Makes room for element n of *arr (capacity *cap, doubling); 0 on ENOMEM. */
int ct_cload_grow(void **arr, size_t *cap, size_t n, size_t elem);
/* n bytes of valid UTF-8 with no control characters. */
bool ct_cload_utf8_ok(const char *s, size_t n);
/* Identifier for campaign and group ids: [A-Za-z0-9_.-], 1..max bytes. */
bool ct_cload_ident_ok(const char *s, size_t max);
/* 1..CT_AGENT_ID_MAX printable ASCII characters, no spaces. */
bool ct_cload_agent_id_ok(const char *s, size_t n);
/* The declared district with that code, or NULL. */
xdistrict *ct_cload_district(lctx *c, uint32_t code);
/* Reads the roster CSV (one physical line at a time through libcsv) into
 * c->agents; an error in a row is held back in c->row_* until the
 * duplicates among earlier rows are checked. */
void ct_cload_roster(lctx *c, const char *rname, const char *roster, size_t len);

/* [reorg NAME] sections (ct_reorg_load.c): the header (arg is NAME), one
 * key line, the checks against districts and roster once both are read, the
 * output into cp->reorgs (sorted; c keeps none of it), and the context's
 * memory. */
void ct_cload_reorg_begin(lctx *c, const char *arg);
int ct_cload_reorg_key(lctx *c, const char *key, const char *value);
void ct_cload_reorgs_check(lctx *c);
void ct_cload_reorgs_output(lctx *c, ct_campaign *cp);
void ct_cload_reorgs_free(lctx *c);
/* Whether unit code is "new": the target of a map of some [reorg NAME] and
 * the unit of no staff on the roster (docs/PROTOCOL.md §4.5). */
bool ct_cload_unit_is_new(lctx *c, uint32_t code);
bool ct_cload_take_text(lctx *c, const char *key, const char *value, char *dst, size_t cap);

#endif
