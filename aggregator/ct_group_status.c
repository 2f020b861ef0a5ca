/* ct_group_status.c — the group part of the aggregator's status (see
 * ct_group_status.h). */
#include "ct_group_status.h"

#include <stdio.h>
#include <string.h>

void ct_group_status_fill(const ct_elect_view *v, const char *group, const char *advertise,
                          uint64_t own_head, bool accepting, const ct_repl *repl, int64_t now_ms,
                          ct_wire_group *g)
{
    memset(g, 0, sizeof *g);
    g->present = true;
    snprintf(g->name, sizeof g->name, "%.*s", CT_GROUP_NAME_MAX, group);
    snprintf(g->leader, sizeof g->leader, "%.*s", CT_GROUP_ENDPOINT_MAX, v->leader);
    g->role = v->role == CT_ELECT_LEADER     ? CT_GROUP_LEADER
              : v->role == CT_ELECT_FOLLOWER ? CT_GROUP_FOLLOWER
                                             : CT_GROUP_UNKNOWN;
    g->epoch = v->leader[0] ? v->epoch : 0;
    g->since_ms = v->leader[0] && v->since_ms > 0 ? v->since_ms : 0;
    g->lease_left_ms = v->lease_ok_until_ms > now_ms ? v->lease_ok_until_ms - now_ms : 0;
    g->etcd_ok = v->etcd_ok;
    g->accepting = accepting;
    size_t n = v->n_members < CT_GROUP_MAX_MEMBERS ? v->n_members : CT_GROUP_MAX_MEMBERS;
    uint64_t leader_head = repl ? ct_repl_committed_seq(repl) : 0;
    for (size_t i = 0; i < n; i++) {
        ct_wire_member *m = &g->members[i];
        const ct_elect_member *s = &v->members[i];
        snprintf(m->endpoint, sizeof m->endpoint, "%s", s->endpoint);
        if (!m->endpoint[0]) snprintf(m->endpoint, sizeof m->endpoint, "-");
        m->epoch = s->epoch;
        m->head = strcmp(s->endpoint, advertise) == 0 ? own_head : s->head;
        if (!repl && v->leader[0] && strcmp(s->endpoint, v->leader) == 0) leader_head = m->head;
    }
    g->n_members = n;
    for (size_t i = 0; i < n; i++) {
        ct_wire_member *m = &g->members[i];
        if (!v->leader[0]) continue;
        m->lag_records = leader_head > m->head ? leader_head - m->head : 0;
        if (repl && m->lag_records) {
            int64_t l = ct_repl_lag_ms(repl, m->head, now_ms);
            m->lag_ms = l > 0 ? l : 0;
        }
    }
}
