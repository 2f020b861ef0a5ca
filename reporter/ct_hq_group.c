/* ct_hq_group.c — the group's JSON and series for the reporter (see
 * ct_hq_group.h).
 *
 * Invariants: pure functions of the decoded "gr"; each member appears once,
 * in the order of the status (sorted by endpoint); a member is the leader
 * when its endpoint is the leader's, so at most one member is.
 */
#include "ct_hq_group.h"

#include <string.h>

#include "ct_text.h"

static const char *role_name(ct_wire_group_role r)
{
    return r == CT_GROUP_LEADER ? "leader" : r == CT_GROUP_FOLLOWER ? "follower" : "unknown";
}

static bool is_leader(const ct_wire_group *g, const ct_wire_member *m)
{
    return g->leader[0] && strcmp(g->leader, m->endpoint) == 0;
}

ct_err ct_hq_group_json(const ct_wire_group *g, bool with_times, ct_buf *b)
{
    if (!g->present) return ct_buf_printf(b, "\"group\":{\"mode\":\"manual\"}");
    ct_err e = ct_buf_printf(b, "\"group\":{\"mode\":\"etcd\",\"name\":");
    if (!e) e = ct_text_json_str(b, g->name);
    if (!e) e = ct_buf_printf(b, ",\"leader\":");
    if (!e) e = ct_text_json_str(b, g->leader);
    if (!e)
        e = ct_buf_printf(b,
                          ",\"role\":\"%s\",\"epoch\":%llu,\"since_ms\":%lld,\"etcd_ok\":%s,"
                          "\"accepting\":%s",
                          role_name(g->role), (unsigned long long)g->epoch, (long long)g->since_ms,
                          g->etcd_ok ? "true" : "false", g->accepting ? "true" : "false");
    if (!e && with_times)
        e = ct_buf_printf(b, ",\"lease_left_ms\":%lld", (long long)g->lease_left_ms);
    if (!e) e = ct_buf_printf(b, ",\"members\":[");
    for (size_t i = 0; !e && i < g->n_members; i++) {
        const ct_wire_member *m = &g->members[i];
        e = ct_buf_printf(b, "%s{\"endpoint\":", i ? "," : "");
        if (!e) e = ct_text_json_str(b, m->endpoint);
        if (!e)
            e = ct_buf_printf(b, ",\"leader\":%s,\"epoch\":%llu,\"head\":%llu,\"lag_records\":%llu",
                              is_leader(g, m) ? "true" : "false", (unsigned long long)m->epoch,
                              (unsigned long long)m->head, (unsigned long long)m->lag_records);
        if (!e && with_times) e = ct_buf_printf(b, ",\"lag_ms\":%lld", (long long)m->lag_ms);
        if (!e) e = ct_buf_printf(b, "}");
    }
    if (!e) e = ct_buf_printf(b, "]}");
    return e;
}

static ct_err gauge(ct_buf *b, const char *name, const char *help)
{
    return ct_buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

ct_err ct_hq_group_metrics(const ct_wire_group *g, ct_buf *b)
{
    ct_err e = gauge(b, "chitieu_hq_group_info",
                     "The aggregator group: name, mode (etcd or manual) and leader's endpoint");
    if (!e) e = ct_buf_printf(b, "chitieu_hq_group_info{group=\"");
    if (!e) e = ct_text_prom_label(b, g->present ? g->name : "");
    if (!e) e = ct_buf_printf(b, "\",mode=\"%s\",leader=\"", g->present ? "etcd" : "manual");
    if (!e) e = ct_text_prom_label(b, g->present ? g->leader : "");
    if (!e) e = ct_buf_printf(b, "\"} 1\n");
    if (e || !g->present) return e;
    e = ct_buf_printf(
        b,
        "# HELP chitieu_hq_group_epoch The group's epoch (the leader key's etcd revision; 0: no "
        "leader)\n# TYPE chitieu_hq_group_epoch gauge\nchitieu_hq_group_epoch %llu\n"
        "# HELP chitieu_hq_group_leader_since_seconds When the aggregator first saw the current "
        "leader (Unix time; 0: none)\n# TYPE chitieu_hq_group_leader_since_seconds gauge\n"
        "chitieu_hq_group_leader_since_seconds %.3f\n"
        "# HELP chitieu_hq_group_lease_left_seconds How long the aggregator's etcd lease is sure "
        "for\n# TYPE chitieu_hq_group_lease_left_seconds gauge\n"
        "chitieu_hq_group_lease_left_seconds %.3f\n"
        "# HELP chitieu_hq_group_etcd_up 1 when etcd answered the aggregator's last request\n"
        "# TYPE chitieu_hq_group_etcd_up gauge\nchitieu_hq_group_etcd_up %d\n"
        "# HELP chitieu_hq_group_accepting 1 when the aggregator takes events (0: follower, or "
        "read-only)\n# TYPE chitieu_hq_group_accepting gauge\nchitieu_hq_group_accepting %d\n",
        (unsigned long long)g->epoch, (double)g->since_ms / 1000.0,
        (double)g->lease_left_ms / 1000.0, g->etcd_ok ? 1 : 0, g->accepting ? 1 : 0);
    if (!e)
        e = gauge(b, "chitieu_hq_group_role",
                  "1 for the aggregator's role in the group (leader, follower, unknown)");
    for (int r = CT_GROUP_UNKNOWN; !e && r <= CT_GROUP_FOLLOWER; r++)
        e = ct_buf_printf(b, "chitieu_hq_group_role{role=\"%s\"} %d\n",
                          role_name((ct_wire_group_role)r), (int)g->role == r ? 1 : 0);
    static const char *const fam[][2] = {
        {"chitieu_hq_group_is_leader", "1 for the member whose endpoint holds the leader key"},
        {"chitieu_hq_group_member_epoch", "The member's store epoch, as its etcd key says"},
        {"chitieu_hq_group_member_head_seq", "The member's log head seq"},
        {"chitieu_hq_group_member_lag_records", "Records the leader has that the member lacks"},
        {"chitieu_hq_group_member_lag_seconds",
         "Age of the oldest record the member lacks (measured on the leader; 0 elsewhere)"},
    };
    for (size_t k = 0; !e && k < sizeof fam / sizeof fam[0]; k++) {
        e = gauge(b, fam[k][0], fam[k][1]);
        for (size_t i = 0; !e && i < g->n_members; i++) {
            const ct_wire_member *m = &g->members[i];
            e = ct_buf_printf(b, "%s{member=\"", fam[k][0]);
            if (!e) e = ct_text_prom_label(b, m->endpoint);
            if (e) break;
            switch (k) {
            case 0:
                e = ct_buf_printf(b, "\"} %d\n", is_leader(g, m) ? 1 : 0);
                break;
            case 1:
                e = ct_buf_printf(b, "\"} %llu\n", (unsigned long long)m->epoch);
                break;
            case 2:
                e = ct_buf_printf(b, "\"} %llu\n", (unsigned long long)m->head);
                break;
            case 3:
                e = ct_buf_printf(b, "\"} %llu\n", (unsigned long long)m->lag_records);
                break;
            default:
                e = ct_buf_printf(b, "\"} %.3f\n", (double)m->lag_ms / 1000.0);
                break;
            }
        }
    }
    return e;
}
