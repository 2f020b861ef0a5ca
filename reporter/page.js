// page.js — the HQ live page's behaviour (inlined into page.html at build
// time; see the comment at the top of page.html for the views and the feed).
// FEED and VERDICT, the words shared with the national page, are in
// labels.js (inlined before this file).
// Every value from the report is put into the page with textContent or an
// attribute, never as HTML; an element is built once, then only what changed
// is written.
"use strict";
const T = {
  vi: { data_as_of:"Số liệu lúc", phase:"Giai đoạn", day:"Ngày", left:"còn (ngày)", source:"Nguồn dữ liệu",
        units:"Đơn vị", units_current:"theo tổ chức hiện tại", units_original:"ban đầu",
        province:"Toàn tỉnh", pace_title:"Tiến độ theo ngày (lũy kế so với nhịp đều đến chỉ tiêu)",
        legend:"— thực tế (lũy kế theo ngày ghi nhận)   - - - nhịp đều đến chỉ tiêu   ··· chỉ tiêu",
        by_unit:"Theo đơn vị", below_title:"Cán bộ chưa đạt chỉ tiêu cá nhân", groups:"Nhóm đối tượng hỗ trợ",
        downloads:"Tải về", staff:"cán bộ", log_pos:"Vị trí nhật ký", chain_head:"Đầu chuỗi băm",
        live_link:"Kết nối trực tiếp", unit:"Đơn vị", progress:"tiến độ", verdict:"đánh giá",
        met_both:"CB đạt cả hai", officer:"Cán bộ", code:"Mã", below_total:"Tổng số cán bộ chưa đạt: ",
        people:"người", group:"Nhóm", expected:"Dự kiến theo nhịp đều", remaining:"Còn thiếu",
        per_day:"Cần mỗi ngày", projection:"Dự báo cuối đợt", gross_line:"Tổng ghi nhận / hủy / trùng",
        staff_met:"Cán bộ đạt", all_staff:"Tất cả cán bộ (bấm tiêu đề cột để sắp xếp)",
        attain:"đạt", personal:"chỉ tiêu cá nhân", trend:"Tiến độ theo ngày của đơn vị",
        no_commune:"Số liệu theo xã/phường được đếm theo đơn vị (xem trang của đơn vị), không theo từng cán bộ.",
        communes:"xã/phường", by_commune:"Theo xã/phường (người đang tham gia)", commune:"Xã/phường",
        commune_none:"Không ghi xã/phường trong danh sách",
        no_list:"Đơn vị này không khai báo danh sách xã/phường trong tệp chiến dịch: không có số liệu theo xã/phường.",
        dl_note:"Mỗi tệp ghi vị trí nhật ký (seq) và đầu chuỗi băm mà nó được lập từ đó.",
        connected:"đã kết nối", not_connected:"chưa kết nối", conn_lost:"mất kết nối, đang thử lại",
        banner_nc:"Chưa kết nối với máy chủ tổng hợp — chưa có số liệu. ",
        banner_stale:"Số liệu cũ: cập nhật lần cuối cách đây ", banner_lag:"Đang đồng bộ lại với máy chủ tổng hợp… ",
        loading:"đang tải…", district:"Đơn vị", count:"số", sec:"giây", min:"phút", hour:"giờ", unknown:"không rõ",
        offices:"Văn phòng (máy thu thập)", office:"Máy", state:"Tình trạng", waiting:"chờ gửi",
        unsafe:"đã ghi, chưa an toàn", rejected:"bị từ chối", oldest:"Sự kiện chờ lâu nhất",
        silent_for:"im lặng ", ok_state:"bình thường", never:"chưa từng báo cáo", version:"Phiên bản",
        hq_unavailable:"Máy chủ tổng hợp chưa gửi trạng thái (phiên bản cũ hoặc chưa kết nối).",
        silent_note:"Im lặng: không liên lạc quá ", hq_title:"Máy chủ tổng hợp / sao chép", role:"Vai trò",
        committed:"Đã ghi (committed)", safe:"An toàn (safe)", alert:"Cảnh báo", follower:"Máy theo dõi",
        acked:"Đã xác nhận", lag:"Trễ (bản ghi)", lag_ms:"Trễ",
        dlag:"Trễ ghi bền (bản ghi)", dlag_ms:"Trễ ghi bền (ms)", applied:"Đã đếm (seq)",
        alag:"Trễ đếm (bản ghi)", alag_ms:"Trễ đếm (ms)", alert_on:"safe ngừng tăng", alert_off:"không",
        primary:"chính", follower_role:"theo dõi", none:"không có",
        group:"Nhóm", mode_manual:"chế độ thủ công (vai trò do người vận hành chỉ định)", primary_is:"Máy chính: ",
        since:" từ ", epoch:"kỳ (epoch) ", followers_are:"máy theo dõi: ", lag_word:" trễ ", records:" bản ghi",
        no_leader:"chưa có máy chính", read_only:"CHỈ ĐỌC: không nhận sự kiện", etcd_down:"không liên lạc được etcd",
        member:"Thành viên", head:"Đầu nhật ký (seq)", lease_left:"hợp đồng (lease) còn ", leader_mark:"chính",
        target_original:"chỉ tiêu ban đầu", changes_title:"Điều chỉnh", target_now:"Chỉ tiêu đang áp dụng", original:"ban đầu", quota_now:"Chỉ tiêu cá nhân",
        voided:"Hủy bỏ (nhập sai)", corrected:"Sửa", cancelled:"Rút (hủy tham gia)", kind:"Loại", detail:"Nội dung",
        k_void:"hủy bỏ", k_correct:"sửa", k_target:"đổi chỉ tiêu", k_close:"chốt ngày", k_reopen:"mở lại ngày", k_reorg:"tổ chức lại đơn vị",
        per_staff:"chỉ tiêu cá nhân", from:" từ ", pending:"chưa có hiệu lực", no_changes:"Chưa có điều chỉnh nào.",
        changes_note:"Lý do và người thực hiện của mỗi điều chỉnh có trong nhật ký: xem bằng lệnh chitieu-audit life.",
        closed_days:"Ngày đã chốt số liệu", closed_by:"Chốt (seq)", official:"chính thức", current:"hiện tại", late_after:"đến sau khi chốt",
        closed_note:"Số chính thức là số liệu lúc chốt; số hiện tại gồm cả dữ liệu đến sau khi chốt (không bị bỏ). Chốt theo đơn vị cũ (đã sáp nhập): số chính thức gồm đơn vị cũ đó như lúc chốt, các đơn vị khác như hiện tại.",
        closed_part:"chốt theo đơn vị cũ ", parts_closed:" đơn vị cũ đã chốt",
        late_title:"Dữ liệu đến muộn", counted:"Số ghi nhận", after_day:"Nhận sau ngày phát sinh", max_late:"Muộn nhất",
        late_note:"p50 / p90: một nửa / 9 phần 10 số ghi nhận đến trong khoảng thời gian này. Bảng dưới: lũy kế theo ngày phát sinh và theo ngày máy chủ nhận.",
        as_recorded:"theo ngày phát sinh", as_known:"theo ngày nhận", rank_title:"Xếp hạng theo mức đạt chỉ tiêu của chính mình",
        rank_note:"Xếp theo tỷ lệ đạt chỉ tiêu đang áp dụng (không theo số lượng); bằng nhau thì nhiều hơn, rồi ít hủy bỏ hơn, rồi mã nhỏ hơn. * Số bị từ chối do máy của văn phòng báo lên, không có trong nhật ký nên không tái lập được.",
        rejected_office:"Bị từ chối*", top_staff:"Cán bộ (10 người đầu)", rank:"Hạng",
        dl_changes:"điều chỉnh", dl_days:"theo ngày", dl_late:"đến muộn", dl_ranking:"xếp hạng", days_unit:"ngày", after_window:"nhận sau đợt" },
  en: { data_as_of:"Figures as of", phase:"Phase", day:"Day", left:"days left", source:"Data source",
        units:"Units", units_current:"as organised now", units_original:"original",
        province:"Whole province", pace_title:"Progress per day (cumulative vs. steady pace to the target)",
        legend:"— actual (cumulative by day recorded)   - - - steady pace to target   ··· target",
        by_unit:"By office", below_title:"Staff below their personal quota", groups:"Subsidy groups",
        downloads:"Downloads", staff:"staff", log_pos:"Log position", chain_head:"Chain head",
        live_link:"Live link", unit:"Office", progress:"progress", verdict:"verdict",
        met_both:"Staff meeting both", officer:"Staff member", code:"ID", below_total:"Staff below quota: ",
        people:"people", group:"Group", expected:"Expected at steady pace", remaining:"Remaining",
        per_day:"Needed per day", projection:"Projected at the end", gross_line:"Recorded / cancelled / repeats",
        staff_met:"Staff meeting quota", all_staff:"All staff (click a column title to sort)",
        attain:"attained", personal:"personal quota", trend:"The office's progress per day",
        no_commune:"Figures per commune are kept per office (see the office's page), not per staff member.",
        communes:"communes", by_commune:"By commune (people currently enrolled)", commune:"Commune",
        commune_none:"No listed commune named",
        no_list:"This office lists no communes in the campaign file: no figures per commune.",
        dl_note:"Each file names the log position (seq) and chain head it was made from.",
        connected:"connected", not_connected:"not connected", conn_lost:"connection lost, retrying",
        banner_nc:"Not connected to the aggregator — no figures yet. ",
        banner_stale:"Old figures: last update ", banner_lag:"Resynchronising with the aggregator… ",
        loading:"loading…", district:"Office", count:"count", sec:"s", min:"min", hour:"h", unknown:"unknown",
        offices:"Offices (collectors)", office:"Collector", state:"State", waiting:"waiting",
        unsafe:"committed, not yet safe", rejected:"rejected", oldest:"Oldest waiting event",
        silent_for:"silent for ", ok_state:"reporting", never:"never reported", version:"Version",
        hq_unavailable:"The aggregator sent no status (older version, or not connected).",
        silent_note:"Silent: not heard from for more than ", hq_title:"HQ / replication", role:"Role",
        committed:"Committed", safe:"Safe", alert:"Alert", follower:"Follower",
        acked:"Confirmed", lag:"Lag (records)", lag_ms:"Lag",
        dlag:"Durable lag (records)", dlag_ms:"Durable lag (ms)", applied:"Counted (seq)",
        alag:"Apply lag (records)", alag_ms:"Apply lag (ms)", alert_on:"safe stalled", alert_off:"none",
        primary:"primary", follower_role:"follower", none:"none",
        group:"Group", mode_manual:"manual mode (roles set by the operator)", primary_is:"Primary: ",
        since:" since ", epoch:"epoch ", followers_are:"followers: ", lag_word:" lag ", records:" records",
        no_leader:"no primary", read_only:"READ-ONLY: takes no events", etcd_down:"etcd unreachable",
        member:"Member", head:"Log head (seq)", lease_left:"lease left ", leader_mark:"primary",
        target_original:"original target", changes_title:"Changes", target_now:"Target in force", original:"original", quota_now:"Personal quota",
        voided:"Voided (entered wrongly)", corrected:"Corrected", cancelled:"Cancelled (participant left)", kind:"Kind", detail:"Detail",
        k_void:"void", k_correct:"correction", k_target:"target change", k_close:"day closed", k_reopen:"day reopened", k_reorg:"reorganization",
        per_staff:"personal quota", from:" from ", pending:"not in force yet", no_changes:"No changes yet.",
        changes_note:"Each change's reason and actor are in the log: list them with chitieu-audit life.",
        closed_days:"Closed days", closed_by:"Closed (seq)", official:"official", current:"now", late_after:"arrived after close",
        closed_note:"The official figure is the one at the close; the current one includes data that arrived after it (never dropped). Closed for part (a unit merged into this one): the official figure holds that part as at its close and the other parts as they are now.",
        closed_part:"closed for part ", parts_closed:" part(s) closed",
        late_title:"Late data", counted:"Recorded", after_day:"Received after their day", max_late:"Latest",
        late_note:"p50 / p90: half / nine in ten of the sign-ups arrived within this time. Below: cumulative by the day they happened and by the day HQ received them.",
        as_recorded:"by day happened", as_known:"by day received", rank_title:"Ranking by attainment of one's own target",
        rank_note:"Ranked by the share of the target in force (not by volume); ties: more sign-ups, then fewer voided, then the lower code. * Rejects as reported by the office's collector: not in the log, so not reproducible.",
        rejected_office:"Rejected*", top_staff:"Staff (first 10)", rank:"Rank",
        dl_changes:"changes", dl_days:"per day", dl_late:"late data", dl_ranking:"ranking", days_unit:"d", after_window:"received after the window" } };
const PHASE = { vi:{ not_started:"chưa bắt đầu", running:"đang diễn ra", final:"kết thúc (số liệu cuối)" },
                en:{ not_started:"not started", running:"running", final:"over (final figures)" } };
const qs = new URLSearchParams(location.search);
const token = qs.get("token");
const suffix = token ? "?token=" + encodeURIComponent(token) : "";
let lang = qs.get("lang") || localStorage.getItem("chitieu-lang") || "vi";
if (!T[lang]) lang = "vi";
let last = null, feed = null, feedAt = 0, sseOpen = false;
// ?until_seq=S: stop following /events once the page shows log position S
// (lets a headless browser finish loading: tests use it with --dump-dom).
const untilSeq = qs.has("until_seq") ? Number(qs.get("until_seq")) : null;
let done = false;
const t = k => T[lang][k] || k;

// ---------------------------------------------------------------- formats (vi-VN: 100.003, 67,9 %)
const loc = () => lang === "vi" ? "vi-VN" : "en-GB";
const n0 = v => Number(v).toLocaleString(loc(), { maximumFractionDigits: 0 });
const n1 = v => Number(v).toLocaleString(loc(), { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const pct = v => n1(v) + " %";
// "2023-07-27T18:28:00+07:00" (campaign-local) -> "27/07/2023 18:28"
const when = s => s.slice(8, 10) + "/" + s.slice(5, 7) + "/" + s.slice(0, 4) + " " + s.slice(11, 16);
function age(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + " " + t("sec");
  if (s < 3600) return Math.floor(s / 60) + " " + t("min") + " " + (s % 60) + " " + t("sec");
  return Math.floor(s / 3600) + " " + t("hour") + " " + Math.floor(s % 3600 / 60) + " " + t("min");
}

// ---------------------------------------------------------------- keyed DOM helpers
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : String(k));
  return e;
}
// writes only what differs (a rewrite would drop the selection)
function txt(e, s) { s = String(s); if (e.textContent !== s) e.textContent = s; return e; }
function attr(e, k, v) { v = String(v); if (e.getAttribute(k) !== v) e.setAttribute(k, v); return e; }
function cls(e, c) { if (e.className !== c) e.className = c; return e; }
// a figure: exact value in data-v, formatted text
function fig(e, v, f) { attr(e, "data-v", v); return txt(e, (f || n0)(v)); }
// children of parent keyed by data-key, in the order of keys: kept, moved,
// made (make(key) -> element) or removed; returns key -> element
function keyed(parent, keys, make) {
  const old = new Map();
  for (const c of Array.from(parent.children)) if (c.dataset.key !== undefined) old.set(c.dataset.key, c);
  const out = new Map();
  let prev = null;
  for (const k of keys) {
    let c = old.get(k);
    if (!c) { c = make(k); c.dataset.key = k; }
    old.delete(k);
    const want = prev ? prev.nextSibling : parent.firstChild;
    if (want !== c) parent.insertBefore(c, want);
    out.set(k, c); prev = c;
  }
  for (const c of old.values()) c.remove();
  return out;
}
function q(root, sel) { return root.querySelector(sel); }
function bar(b, net, target, expected) {
  attr(b, "title", net + " / " + target);
  let i = b.firstChild, m = b.lastChild;
  if (!i) { i = b.appendChild(el("i")); m = b.appendChild(el("b")); }
  const w = (target > 0 ? Math.min(100, 100 * net / target) : 100) + "%";
  if (i.style.width !== w) i.style.width = w;
  const l = (target > 0 ? Math.min(100, 100 * expected / target) : 0) + "%";
  if (m.style.left !== l) m.style.left = l;
  return b;
}
function badge(e, v) { cls(e, "badge " + v); attr(e, "data-verdict", v); return txt(e, VERDICT[lang][v] || v); }
function set(id, text) { const e = document.getElementById(id); if (e) txt(e, text); }

// ---------------------------------------------------------------- pieces
// program cards (province or district): figures of unit u
function cards(box, s, u, idp) {
  const m = keyed(box, s.programs.map(p => p.id), id => el("div", { class: "card" },
    el("div", {}, el("b", { class: "label" }), " ", el("span", { class: "badge" })),
    el("div", { class: "big" }, el("span", { class: "fig net", id: idp + "net-" + id }), " / ",
       el("span", { class: "fig target", id: idp + "target-" + id }),
       el("small", { class: "fig pct" })),
    el("div", { class: "bar" }),
    el("div", { class: "kv" },
      el("span", { "data-t": "expected" }), el("span", { class: "fig expected" }),
      el("span", { "data-t": "remaining" }), el("span", { class: "fig remaining", id: idp + "remaining-" + id }),
      el("span", { "data-t": "per_day" }), el("span", { class: "fig required_daily" }),
      el("span", { "data-t": "projection" }), el("span", { class: "fig projection" }),
      el("span", { "data-t": "gross_line" }), el("span", { class: "fig" },
        el("span", { class: "gross" }), " / ", el("span", { class: "cancelled" }), " / ", el("span", { class: "repeats" })),
      el("span", { class: "staff-met-label" }), el("span", { class: "fig" }, el("span", { class: "staff_met" }), " / ", el("span", { class: "staff" })),
      el("span", { class: "life-l" }), el("span", { class: "fig life-v" }, el("span", { class: "voided" }), " / ", el("span", { class: "corrected" }),
        " — ", el("span", { class: "target_original" })))));
  for (const p of s.programs) {
    const c = m.get(p.id), f = u.programs[p.id];
    attr(c, "data-program", p.id);
    txt(q(c, ".label"), p.label); badge(q(c, ".badge"), f.verdict);
    fig(q(c, ".net"), f.net); fig(q(c, ".target"), f.target);
    attr(q(c, ".pct"), "data-v", f.pct); txt(q(c, ".pct"), " (" + pct(f.pct) + ")");
    bar(q(c, ".bar"), f.net, f.target, f.expected);
    fig(q(c, ".expected"), f.expected, n1); fig(q(c, ".remaining"), f.remaining);
    fig(q(c, ".required_daily"), f.required_daily, n1); fig(q(c, ".projection"), f.projection, n1);
    for (const k of ["gross", "cancelled", "repeats", "staff_met"]) fig(q(c, "." + k), f[k]);
    fig(q(c, ".staff"), u.staff);
    txt(q(c, ".staff-met-label"), t("staff_met") + " (≥" + s.agent_target[p.id] + ")");
    // with the campaign's life: voided / corrected, and the original target
    const life = f.voided !== undefined;
    q(c, ".life-l").hidden = q(c, ".life-v").hidden = !life;
    if (life) {
      txt(q(c, ".life-l"), t("voided") + " / " + t("corrected") + " — " + t("target_original"));
      for (const k of ["voided", "corrected", "target_original"]) fig(q(c, "." + k), f[k]);
    }
  }
}

// cumulative trend vs the steady pace; rebuilt only when its inputs change
function chart(holder, s, id, days, target, label) {
  const asOfDay = s.as_of.slice(0, 10), fin = s.phase === "final";
  const sig = JSON.stringify([days, target, asOfDay, fin, label]);
  if (holder.dataset.sig === sig) return;
  holder.dataset.sig = sig;
  const NS = "http://www.w3.org/2000/svg";
  const W = 560, H = 240, L = 44, R = 22, TP = 10, B = 34;
  let maxY = target;
  for (const d of days) maxY = Math.max(maxY, d.cum);
  maxY = Math.max(1, maxY) * 1.05;
  const n = Math.max(1, days.length);
  const x = i => L + (W - L - R) * (i + 1) / n;
  const y = v => TP + (H - TP - B) * (1 - v / maxY);
  const svg = document.createElementNS(NS, "svg");
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  svg.setAttribute("id", id);
  svg.setAttribute("role", "img");
  const add = (tag, a, text) => { const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(a)) e.setAttribute(k, v); if (text !== undefined) e.textContent = text; svg.append(e); return e; };
  add("line", { x1: L, y1: y(0), x2: W - R, y2: y(0), stroke: "#999" });
  add("line", { x1: L, y1: TP, x2: L, y2: y(0), stroke: "#999" });
  for (const v of [0, Math.round(target / 2), target])
    add("text", { x: L - 4, y: y(v) + 4, "text-anchor": "end", "font-size": 11, fill: "#555" }, n0(v));
  add("line", { x1: L, y1: y(target), x2: W - R, y2: y(target), stroke: "#888", "stroke-dasharray": "2 3" });
  const steady = [L + "," + y(0)].concat(days.map((d, i) => x(i) + "," + y(d.steady)));
  add("polyline", { points: steady.join(" "), fill: "none", stroke: "#b35900", "stroke-width": 2, "stroke-dasharray": "6 4" });
  const actual = [L + "," + y(0)];
  days.forEach((d, i) => { if (fin || d.day <= asOfDay) actual.push(x(i) + "," + y(d.cum)); });
  add("polyline", { points: actual.join(" "), fill: "none", stroke: "#2e7bcf", "stroke-width": 3 });
  days.forEach((d, i) => {
    if (fin || d.day <= asOfDay)
      add("circle", { cx: x(i), cy: y(d.cum), r: 3, fill: "#2e7bcf", "data-day": d.day, "data-cum": d.cum });
    add("text", { x: x(i), y: H - B + 16, "text-anchor": "middle", "font-size": 10, fill: "#555" }, d.day.slice(8) + "/" + d.day.slice(5, 7));
  });
  holder.replaceChildren(el("b", {}, label), svg);
}

// ---------------------------------------------------------------- province view
function renderProvince(s) {
  cards(document.getElementById("province"), s, s.province, "prov-");
  const pace = document.getElementById("pace");
  const m = keyed(pace, s.programs.map(p => p.id), () => el("div", { class: "card" }));
  for (const p of s.programs)
    chart(m.get(p.id), s, "pace-" + p.id,
          s.days.map(d => ({ day: d.day, cum: d.cum[p.id], steady: d.steady[p.id] })),
          s.province.programs[p.id].target, p.label);
  renderDistricts(s); renderBelow(s); renderGroups(s); renderLife(s);
}

// ---------------------------------------------------------------- the campaign's life ("life" in the report)
const unitName = (s, code) => { const d = s.districts.find(x => x.code === code); return d ? d.code + " " + d.name : String(code); };
const dmy = d => d.slice(8, 10) + "/" + d.slice(5, 7) + "/" + d.slice(0, 4);
// a lateness in seconds: "12 phút", "3 giờ 05 phút", "2 ngày 4 giờ"
function dur(sec) {
  if (sec < 3600) return age(sec * 1000);
  if (sec < 86400) return Math.floor(sec / 3600) + " " + t("hour") + " " + String(Math.floor(sec % 3600 / 60)).padStart(2, "0") + " " + t("min");
  return n0(Math.floor(sec / 86400)) + " " + t("days_unit") + " " + Math.floor(sec % 86400 / 3600) + " " + t("hour");
}
const lateTxt = (b, sec) => b === null ? "–" : sec === null ? "≥ 7 " + t("days_unit") : "≤ " + dur(sec);
function headRow(tb, heads, text) {
  if (!tb.tHead) tb.append(el("thead", {}, el("tr")), el("tbody"));
  keyed(tb.tHead.rows[0], heads.map((_, i) => String(i)), k => el("th", (text || [0]).includes(Number(k)) ? { class: "name" } : {}))
    .forEach((c, i) => txt(c, heads[Number(i)]));
  return tb.tBodies[0];
}
// rows of ncol cells keyed by keys; the columns in text are left-aligned text
function rowsOf(body, keys, ncol, attrs, text) {
  return keyed(body, keys, k => el("tr", attrs ? attrs(k) : {}, ...Array.from({ length: ncol }, (_, i) =>
    el("td", (text || [0]).includes(i) ? { class: "name" } : {}))));
}
function renderLife(s) {
  const L = s.life, panel = document.getElementById("life-panel");
  panel.hidden = !L;
  if (!L) return;
  // summary: target in force (original), quota, voided / corrected / cancelled, per program
  const sum = document.getElementById("life-summary");
  const m = keyed(sum, s.programs.flatMap(p => [p.id + "/l", p.id + "/v"]), k => k.endsWith("/l") ? el("span") :
    el("span", { "data-program": k.split("/")[0] }, el("b", { class: "fig target" }), " (", el("span", { class: "orig-l" }), " ",
       el("span", { class: "fig target_original" }), ") · ", el("span", { class: "quota-l" }), " ", el("span", { class: "fig quota" }),
       " (", el("span", { class: "fig quota_original" }), ") · ", el("span", { class: "void-l" }), " ", el("b", { class: "fig voided" }),
       " · ", el("span", { class: "corr-l" }), " ", el("span", { class: "fig corrected" }), " · ", el("span", { class: "canc-l" }), " ",
       el("span", { class: "fig cancelled" })));
  for (const p of s.programs) {
    const f = s.province.programs[p.id], v = m.get(p.id + "/v");
    txt(m.get(p.id + "/l"), p.label + " — " + t("target_now"));
    fig(q(v, ".target"), f.target); fig(q(v, ".target_original"), f.target_original);
    fig(q(v, ".quota"), L.quota[p.id]); fig(q(v, ".quota_original"), L.quota_original[p.id]);
    fig(q(v, ".voided"), f.voided); fig(q(v, ".corrected"), f.corrected); fig(q(v, ".cancelled"), f.cancelled);
    txt(q(v, ".orig-l"), t("original")); txt(q(v, ".quota-l"), t("quota_now")); txt(q(v, ".void-l"), t("voided"));
    txt(q(v, ".corr-l"), t("corrected")); txt(q(v, ".canc-l"), t("cancelled"));
  }
  // the changes, latest first
  const ch = L.changes.slice().reverse();
  const cb = headRow(document.getElementById("life-changes"), ["seq", t("kind"), t("unit"), t("detail")], [1, 2, 3]);
  const cr = rowsOf(cb, ch.map(c => String(c.seq)), 4, null, [1, 2, 3]);
  for (const c of ch) {
    const r = cr.get(String(c.seq)), td = r.cells;
    attr(r, "data-seq", c.seq); attr(r, "data-kind", c.kind); attr(r, "data-unit", c.unit);
    fig(td[0], c.seq, String); txt(td[1], t("k_" + c.kind));
    txt(td[2], c.unit ? unitName(s, c.unit) : c.kind === "target" ? t("per_staff") : c.kind === "reorg" ? "–" : t("province"));
    let d = "";
    if (c.kind === "target") {
      const g = L.targets.find(x => x.seq === c.seq);
      d = c.program + ": " + n0(c.old) + " → " + n0(c.new) + (g ? t("from") + when(g.effective) + (g.pending ? " (" + t("pending") + ")" : "") : "");
    } else if (c.day) d = dmy(c.day);
    txt(td[3], d);
  }
  document.getElementById("life-no-changes").hidden = ch.length > 0;
  // closed days: the province's closes, then each unit's own or, by the units
  // in force, a merged unit's day closed by a part (closed_by "part")
  const closed = [];
  L.days.forEach(d => { if (d.close_seq) closed.push({ key: d.day + "/0", unit: 0, d }); });
  for (const x of s.districts) for (const d of x.life_days || [])
    if (d.close_seq && (d.closed_by === "unit" || d.closed_by === "part")) closed.push({ key: d.day + "/" + x.code, unit: x.code, d });
  set("life-days-count", closed.length);
  const dh = [t("day"), t("unit"), t("closed_by")];
  for (const p of s.programs) dh.push(p.id + " " + t("official"), t("current"), t("late_after"));
  const db = headRow(document.getElementById("life-days"), dh, [0, 1]);
  const dr = rowsOf(db, closed.map(c => c.key), dh.length, null, [0, 1]);
  for (const c of closed) {
    const r = dr.get(c.key), td = r.cells;
    attr(r, "data-day", c.d.day); attr(r, "data-unit", c.unit); attr(r, "data-close-seq", c.d.close_seq);
    attr(r, "data-closed-by", c.unit ? c.d.closed_by : "province"); attr(r, "data-part", c.d.part || 0);
    const by = c.d.part ? " — " + t("closed_part") + c.d.part + " (" + c.d.parts_closed + t("parts_closed") + ")" : "";
    txt(td[0], dmy(c.d.day)); txt(td[1], (c.unit ? unitName(s, c.unit) : t("province")) + by); fig(td[2], c.d.close_seq, String);
    s.programs.forEach((p, i) => { fig(td[3 + 3 * i], c.d.official[p.id]); attr(td[3 + 3 * i], "data-program", p.id);
      fig(td[4 + 3 * i], c.d.recorded[p.id]); fig(td[5 + 3 * i], c.d.late_after_close[p.id]); });
  }
  // late data per district, then the two cumulative views
  const lb = headRow(document.getElementById("life-late"), [t("unit"), t("counted"), "p50", "p90", t("max_late"), t("after_day"), t("late_after")]);
  const lrows = L.late.districts.concat([Object.assign({ code: 0 }, L.late.province)]);
  const lr = rowsOf(lb, lrows.map(x => String(x.code)), 7, k => ({ "data-district": k }));
  for (const x of lrows) {
    const td = lr.get(String(x.code)).cells;
    txt(td[0], x.code ? unitName(s, x.code) : t("province")); fig(td[1], x.counted);
    attr(td[2], "data-v", x.p50_s === null ? "" : x.p50_s); txt(td[2], lateTxt(x.p50_bucket, x.p50_s));
    attr(td[3], "data-v", x.p90_s === null ? "" : x.p90_s); txt(td[3], lateTxt(x.p90_bucket, x.p90_s));
    attr(td[4], "data-v", x.max_s); txt(td[4], x.counted ? dur(x.max_s) : "–");
    fig(td[5], x.after_day); fig(td[6], x.late_after_close);
  }
  const kh = [t("day")];
  for (const p of s.programs) kh.push(p.id + " " + t("as_recorded"), t("as_known"));
  const kb = headRow(document.getElementById("life-known"), kh);
  // sign-ups received after the report's last day: one more row
  const out = L.late.province.received_outside, later = s.programs.some(p => out[p.id] > 0);
  const kdays = L.days.concat(later ? [{ day: "later", recorded: {}, received: out }] : []);
  const kr = rowsOf(kb, kdays.map(d => d.day), kh.length);
  const cum = {};
  for (const d of kdays) {
    const td = kr.get(d.day).cells;
    txt(td[0], d.day === "later" ? t("after_window") : dmy(d.day));
    s.programs.forEach((p, i) => {
      const c = cum[p.id] || (cum[p.id] = { rec: 0, recv: 0 });
      c.rec += d.recorded[p.id] || 0; c.recv += d.received[p.id];
      fig(td[1 + 2 * i], c.rec); fig(td[2 + 2 * i], c.recv);
    });
  }
  // rankings: offices (rejects as reported by the office, from the hq document), first 10 staff
  const rj = {};
  for (const o of (hq && hq.offices) || []) if (o.reported) rj[o.district] = (rj[o.district] || 0) + o.rejected;
  const oh = [t("rank")];
  for (const p of s.programs) oh.push(p.id, "%", t("voided"), t("rejected_office"));
  const ob = headRow(document.getElementById("rank-offices"), oh, s.programs.map((_, j) => 1 + 4 * j));
  const n = L.ranking.offices[s.programs[0].id].length;
  const orows = rowsOf(ob, Array.from({ length: n }, (_, i) => String(i)), oh.length, null,
                       s.programs.map((_, j) => 1 + 4 * j));
  for (let i = 0; i < n; i++) {
    const td = orows.get(String(i)).cells;
    fig(td[0], i + 1);
    s.programs.forEach((p, j) => {
      const r = L.ranking.offices[p.id][i];
      attr(td[1 + 4 * j], "data-code", r.code); txt(td[1 + 4 * j], unitName(s, r.code));
      fig(td[2 + 4 * j], r.pct, pct); fig(td[3 + 4 * j], r.voided);
      txt(td[4 + 4 * j], r.code in rj ? n0(rj[r.code]) : "–");
    });
  }
  const sh = [t("rank")];
  for (const p of s.programs) sh.push(p.id + " — " + t("top_staff"), "%", t("voided"));
  const sb = headRow(document.getElementById("rank-staff"), sh, s.programs.map((_, j) => 1 + 3 * j));
  const ns = Math.min(10, L.ranking.staff[s.programs[0].id].length);
  const srows = rowsOf(sb, Array.from({ length: ns }, (_, i) => String(i)), sh.length, null,
                       s.programs.map((_, j) => 1 + 3 * j));
  for (let i = 0; i < ns; i++) {
    const td = srows.get(String(i)).cells;
    fig(td[0], i + 1);
    s.programs.forEach((p, j) => {
      const r = L.ranking.staff[p.id][i];
      attr(td[1 + 3 * j], "data-agent", r.id); txt(td[1 + 3 * j], r.id + " (" + r.district + ")");
      fig(td[2 + 3 * j], r.pct, pct); fig(td[3 + 3 * j], r.voided);
    });
  }
}

function renderDistricts(s) {
  const tb = document.getElementById("districts");
  const keys = ["head"].concat(s.districts.map(d => String(d.code)), ["province"]);
  const rows = keyed(tb, keys, k => {
    if (k === "head") {
      const tr = el("tr", {}, el("th", { class: "name" }));
      for (const p of s.programs)
        tr.append(el("th", {}, p.id), el("th", { class: "hide-s" }), el("th", {}, "%"), el("th", {}));
      tr.append(el("th", { class: "hide-s" }));
      return tr;
    }
    const tr = el("tr", { "data-district": k }, el("td", { class: "name" }, k === "province" ? el("b") : el("a", { href: "#/d/" + k })));
    for (const p of s.programs)
      tr.append(el("td", { class: "fig net", "data-program": p.id, "data-district": k }, el("span", { class: "n" }), " / ", el("span", { class: "t" })),
                el("td", { class: "hide-s" }, el("div", { class: "bar", "data-program": p.id })),
                el("td", { class: "fig pct", "data-program": p.id }), el("td", {}, el("span", { class: "badge", "data-program": p.id })));
    tr.append(el("td", { class: "hide-s fig both" }, el("span", { class: "b" }), " / ", el("span", { class: "s" })));
    if (k === "province") tr.style.fontWeight = "600";
    return tr;
  });
  const h = rows.get("head").children;
  txt(h[0], t("unit"));
  s.programs.forEach((p, i) => { txt(h[1 + 4 * i + 1], t("progress")); txt(h[1 + 4 * i + 3], t("verdict")); });
  txt(h[h.length - 1], t("met_both"));
  for (const d of s.districts.concat([Object.assign({ code: "province" }, s.province)])) {
    const tr = rows.get(String(d.code));
    txt(tr.firstChild.firstChild, d.code === "province" ? t("province") : d.code + " " + d.name);
    for (const p of s.programs) {
      const f = d.programs[p.id];
      const c = q(tr, 'td.net[data-program="' + p.id + '"]');
      fig(q(c, ".n"), f.net); fig(q(c, ".t"), f.target);
      bar(q(tr, '.bar[data-program="' + p.id + '"]'), f.net, f.target, f.expected);
      fig(q(tr, 'td.pct[data-program="' + p.id + '"]'), f.pct, pct);
      badge(q(tr, '.badge[data-program="' + p.id + '"]'), f.verdict);
    }
    fig(q(tr, ".both .b"), d.staff_met_both); fig(q(tr, ".both .s"), d.staff);
  }
}

function renderBelow(s) {
  const box = document.getElementById("staff");
  let total = 0;
  const withBelow = s.districts.filter(d => (d.below_quota || []).length);
  for (const d of s.districts) total += (d.below_quota || []).length;
  const totalEl = document.getElementById("staff-below-total");
  attr(totalEl, "data-v", total); txt(totalEl, t("below_total") + n0(total));
  const m = keyed(box, ["total"].concat(withBelow.map(d => String(d.code))), k =>
    k === "total" ? totalEl : el("details", { "data-district": k }, el("summary"), el("div", { class: "scroll" }, el("table"))));
  for (const d of withBelow) {
    const det = m.get(String(d.code)), below = d.below_quota;
    txt(q(det, "summary"), d.code + " " + d.name + ": " + n0(below.length) + " / " + n0(d.staff) + " " + t("people"));
    const tb = q(det, "table");
    const rows = keyed(tb, ["head"].concat(below.map(a => a.id)), k => k === "head"
      ? el("tr", {}, el("th", { class: "name" }), el("th", {}), ...s.programs.map(() => el("th", {})))
      : el("tr", { "data-agent": k }, el("td", { class: "name" }, el("a", { href: "#/d/" + d.code + "/s/" + encodeURIComponent(k) })),
           el("td", {}, k), ...s.programs.map(p => el("td", { class: "fig", "data-program": p.id }))));
    const hc = rows.get("head").children;
    txt(hc[0], t("officer")); txt(hc[1], t("code"));
    s.programs.forEach((p, i) => txt(hc[2 + i], p.id + " (≥" + s.agent_target[p.id] + ")"));
    for (const a of below) {
      const tr = rows.get(a.id);
      txt(q(tr, "a"), a.name);
      for (const p of s.programs) fig(q(tr, 'td[data-program="' + p.id + '"]'), a[p.id]);
    }
  }
}

function renderGroups(s) {
  const tb = document.getElementById("groups");
  const rows = keyed(tb, ["head"].concat(s.groups.map(g => g.id)), k => k === "head"
    ? el("tr", {}, el("th", { class: "name" }), ...s.programs.map(() => el("th", {})))
    : el("tr", { "data-group": k }, el("td", { class: "name" }), ...s.programs.map(p => el("td", { class: "fig", "data-program": p.id }))));
  const hc = rows.get("head").children;
  txt(hc[0], t("group"));
  s.programs.forEach((p, i) => txt(hc[1 + i], p.label));
  for (const g of s.groups) {
    const tr = rows.get(g.id);
    txt(tr.firstChild, g.name);
    for (const p of s.programs) fig(q(tr, 'td[data-program="' + p.id + '"]'), g[p.id]);
  }
}

// ---------------------------------------------------------------- district view
let sortKey = "name", sortDir = 1;
function attainment(s, a, p) { const tg = s.agent_target[p]; return tg > 0 ? 100 * a[p] / tg : 100; }
function renderDistrict(s, code) {
  const box = document.getElementById("view-district");
  const d = s.districts.find(x => String(x.code) === code);
  if (!d) { box.replaceChildren(el("section", {}, t("unknown") + ": " + code)); return; }
  if (box.dataset.code !== code || !box.firstChild) {
    box.dataset.code = code;
    box.replaceChildren(
      el("section", {}, el("h2", { class: "dname" }), el("div", { class: "cards", id: "dist-cards" })),
      el("section", {}, el("h2", { "data-t": "trend" }), el("div", { class: "cards", id: "dist-trend" })),
      el("section", {}, el("h2", { "data-t": "all_staff" }),
         el("div", { class: "scroll" }, el("table", { id: "dist-staff" }))),
      el("section", {}, el("h2", { "data-t": "by_commune" }),
         el("div", { class: "scroll" }, el("table", { id: "dist-communes" })),
         el("p", { class: "note", id: "dist-no-list", "data-t": "no_list" })));
  }
  attr(box, "data-district", code);
  txt(q(box, ".dname"), d.code + " " + d.name);
  cards(document.getElementById("dist-cards"), s, d, "dist-");
  const tr = document.getElementById("dist-trend");
  const m = keyed(tr, s.programs.map(p => p.id), () => el("div", { class: "card" }));
  for (const p of s.programs) {
    let cum = 0;
    chart(m.get(p.id), s, "dist-pace-" + p.id,
          d.days.map(x => ({ day: x.day, cum: (cum += x[p.id]), steady: x.steady[p.id] })),
          d.programs[p.id].target, p.label);
  }
  renderCommunes(s, d);
  const staff = (d.members || []).slice();
  const val = a => sortKey === "name" ? a.name : sortKey === "id" ? a.id
    : sortKey === "both" ? Math.min(...s.programs.map(p => attainment(s, a, p.id))) : attainment(s, a, sortKey);
  staff.sort((a, b) => { const x = val(a), y = val(b); return (x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : 1) * sortDir; });
  const tb = document.getElementById("dist-staff");
  const rows = keyed(tb, ["head"].concat(staff.map(a => a.id)), k => k === "head"
    ? el("tr", {}, el("th", { class: "name sort", "data-sort": "name" }), el("th", { class: "sort", "data-sort": "id" }),
         ...s.programs.flatMap(p => [el("th", {}), el("th", { class: "sort", "data-sort": p.id })]),
         el("th", { class: "sort", "data-sort": "both" }))
    : el("tr", { "data-agent": k }, el("td", { class: "name" }, el("a", { href: "#/d/" + code + "/s/" + encodeURIComponent(k) })),
         el("td", {}, k), ...s.programs.flatMap(p => [el("td", { class: "fig count", "data-program": p.id }),
                                                       el("td", { class: "fig attain", "data-program": p.id })]),
         el("td", { class: "fig bothmin" })));
  const hc = rows.get("head").children;
  txt(hc[0], t("officer")); txt(hc[1], t("code"));
  s.programs.forEach((p, i) => { txt(hc[2 + 2 * i], p.id + " (≥" + s.agent_target[p.id] + ")"); txt(hc[3 + 2 * i], "% " + t("attain")); });
  txt(hc[hc.length - 1], "min %");
  for (const h of hc) if (h.dataset.sort) attr(h, "aria-sort", h.dataset.sort === sortKey ? (sortDir > 0 ? "ascending" : "descending") : "none");
  for (const a of staff) {
    const r = rows.get(a.id);
    txt(q(r, "a"), a.name);
    for (const p of s.programs) {
      fig(q(r, 'td.count[data-program="' + p.id + '"]'), a[p.id]);
      fig(q(r, 'td.attain[data-program="' + p.id + '"]'), Math.round(attainment(s, a, p.id) * 10) / 10, pct);
    }
    fig(q(r, ".bothmin"), Math.round(Math.min(...s.programs.map(p => attainment(s, a, p.id))) * 10) / 10, pct);
  }
}
// the unit's communes (code order) and the enrollments naming none: both programs
function renderCommunes(s, d) {
  const list = d.communes || [];
  document.getElementById("dist-no-list").hidden = list.length > 0;
  const tb = document.getElementById("dist-communes");
  const keys = list.length ? ["head"].concat(list.map(m => String(m.code)), ["none"]) : [];
  const rows = keyed(tb, keys, k => k === "head"
    ? el("tr", {}, el("th", { class: "name" }), ...s.programs.map(p => el("th", { "data-program": p.id })))
    : el("tr", { "data-commune": k === "none" ? "0" : k }, el("td", { class: "name" }),
         ...s.programs.map(p => el("td", { class: "fig count", "data-program": p.id }))));
  if (!list.length) return;
  const hc = rows.get("head").children;
  txt(hc[0], t("commune"));
  s.programs.forEach((p, i) => txt(hc[1 + i], p.label));
  for (const m of list.concat([{ code: "none", none: true }])) {
    const r = rows.get(String(m.code));
    txt(r.firstChild, m.none ? t("commune_none") : m.name);
    for (const p of s.programs)
      fig(q(r, 'td.count[data-program="' + p.id + '"]'), m.none ? d.commune_none[p.id] : m[p.id]);
  }
}
document.addEventListener("click", e => {
  const h = e.target.closest("th.sort");
  if (!h) return;
  if (sortKey === h.dataset.sort) sortDir = -sortDir; else { sortKey = h.dataset.sort; sortDir = 1; }
  if (last) render(last);
});

// ---------------------------------------------------------------- staff member view
function renderStaff(s, code, id) {
  const box = document.getElementById("view-staff");
  const d = s.districts.find(x => String(x.code) === code);
  const a = d && (d.members || []).find(x => x.id === id);
  if (!a) { box.replaceChildren(el("section", {}, t("unknown") + ": " + id)); box.dataset.key = ""; return; }
  if (box.dataset.key !== code + "/" + id) {
    box.dataset.key = code + "/" + id;
    box.replaceChildren(el("section", {}, el("h2", { class: "aname" }),
      el("div", { class: "kv", id: "agent" }), el("p", { class: "note", "data-t": "no_commune" })));
  }
  attr(box, "data-agent", id);
  txt(q(box, ".aname"), a.name + " (" + a.id + ") — " + d.code + " " + d.name);
  const kv = document.getElementById("agent");
  const keys = s.programs.flatMap(p => [p.id + "/l", p.id + "/v"]);
  const m = keyed(kv, keys, k => k.endsWith("/l") ? el("span") : el("span", {}, el("b", { class: "fig count" }), " / ",
    el("span", { class: "fig target" }), " — ", el("span", { class: "fig attain" }), " ", el("span", { class: "badge" }),
    el("span", { class: "life-void" }, " · ", el("span", { class: "void-l" }), " ", el("span", { class: "fig voided" }))));
  for (const p of s.programs) {
    txt(m.get(p.id + "/l"), p.label + " (" + t("personal") + ")");
    const v = m.get(p.id + "/v");
    attr(v, "data-program", p.id);
    fig(q(v, ".count"), a[p.id]); fig(q(v, ".target"), s.agent_target[p.id]);
    fig(q(v, ".attain"), Math.round(attainment(s, a, p.id) * 10) / 10, pct);
    badge(q(v, ".badge"), a[p.id] >= s.agent_target[p.id] ? "reached" : s.phase === "final" ? "missed" : "at_risk");
    // voided sign-ups of this staff member (the report has them with the campaign's life)
    q(v, ".life-void").hidden = !a.voided;
    if (a.voided) { txt(q(v, ".void-l"), t("voided")); fig(q(v, ".voided"), a.voided[p.id]); }
  }
}

// ---------------------------------------------------------------- routing, header, state
function route() {
  const m = location.hash.match(/^#\/d\/([^/]+)(?:\/s\/(.+))?$/);
  return m ? { code: decodeURIComponent(m[1]), agent: m[2] ? decodeURIComponent(m[2]) : null } : { code: null, agent: null };
}
function crumbs(s, r) {
  const nav = document.getElementById("crumbs");
  const parts = [["#/", t("province")]];
  const d = r.code && s && s.districts.find(x => String(x.code) === r.code);
  if (r.code) parts.push(["#/d/" + r.code, d ? d.code + " " + d.name : r.code]);
  if (r.agent) parts.push(["#/d/" + r.code + "/s/" + encodeURIComponent(r.agent), r.agent]);
  const m = keyed(nav, parts.map((p, i) => String(i)), () => el("span", {}, el("a"), " › "));
  parts.forEach((p, i) => { const a = q(m.get(String(i)), "a"); attr(a, "href", p[0]); txt(a, p[1]); });
  attr(document.body, "data-view", r.agent ? "staff" : r.code ? "district" : "province");
}

function translate() {
  document.documentElement.lang = lang;
  for (const e of document.querySelectorAll("[data-t]")) txt(e, t(e.dataset.t));
  attr(document.getElementById("lang-vi"), "aria-pressed", lang === "vi");
  attr(document.getElementById("lang-en"), "aria-pressed", lang === "en");
}

function render(s) {
  last = s;
  const r = route();
  document.title = "Chỉ tiêu — " + s.name;
  set("title", s.name);
  set("as-of", when(s.as_of));
  set("phase", PHASE[lang][s.phase] || s.phase);
  set("elapsed", n1(s.elapsed_days));
  set("span", n1(s.span_days));
  set("days-left", n1(s.days_left));
  set("seq", s.seq);
  set("head", s.head);
  document.getElementById("view-province").hidden = !!r.code;
  document.getElementById("view-district").hidden = !r.code || !!r.agent;
  document.getElementById("view-staff").hidden = !r.agent;
  if (!r.code) renderProvince(s);
  else if (!r.agent) renderDistrict(s, r.code);
  else renderStaff(s, r.code, r.agent);
  crumbs(s, r);
  translate();
  document.body.dataset.seq = s.seq;
  showState();
  renderHQ();
  if (untilSeq !== null && s.seq >= untilSeq) { done = true; if (es) { es.close(); es = null; } }
}

// The feed's state: badge, banner, dimmed figures. Green only when the
// reporter is live AND this page's stream is open.
function showState() {
  const st = feed ? feed.feed : last ? last.feed : "not_connected";
  const f = document.getElementById("feed");
  txt(f, FEED[lang][st] || st); cls(f, "badge " + st); attr(f, "data-state", st);
  document.body.classList.toggle("old", st === "stale" || st === "not_connected" || (!sseOpen && !!last && !done));
  const b = document.getElementById("banner");
  let msg = "";
  const reason = feed && feed.reason ? feed.reason : "";
  if (st === "not_connected") msg = t("banner_nc") + reason;
  else if (st === "stale" || st === "lagging") {
    const a = feed && feed.update_age_ms >= 0 ? feed.update_age_ms + (Date.now() - feedAt) : -1;
    msg = (st === "stale" ? t("banner_stale") + (a >= 0 ? age(a) : t("unknown")) + ". " : t("banner_lag")) + reason;
  }
  b.hidden = !msg; txt(b, msg); cls(b, st); attr(b, "data-state", st);
  const c = document.getElementById("conn");
  const ok = sseOpen && st === "live";
  txt(c, !sseOpen ? t("conn_lost") : ok ? t("connected") : t("not_connected"));
  cls(c, "badge " + (ok ? "live" : "offline"));
}

// ---------------------------------------------------------------- offices and HQ (the "hq" document)
let hq = null, hqAt = 0;
function officeState(o) {
  if (!o.reported) return t("never");
  const w = n0(o.waiting) + " " + t("waiting");
  if (o.silent) return t("silent_for") + age(o.silence_ms + (Date.now() - hqAt)) + ", " + w;
  return t("ok_state") + ", " + w;
}
function renderHQ() {
  if (!hq) return;
  const note = document.getElementById("offices-note");
  txt(note, hq.available ? t("silent_note") + age(hq.silent_after_ms) : t("hq_unavailable"));
  const tb = document.getElementById("offices");
  if (!tb.tHead) tb.append(el("thead", {}, el("tr")), el("tbody"));
  const hr = tb.tHead.rows[0];
  const heads = [t("unit"), t("office"), t("state"), t("waiting"), t("unsafe"), t("rejected"), t("oldest"), t("version")];
  keyed(hr, heads.map((_, i) => String(i)), () => el("th")).forEach((c, i) => txt(c, heads[Number(i)]));
  const offs = hq.offices || [];
  const keys = offs.map(o => o.district + ":" + (o.office || "-"));
  const rows = keyed(tb.tBodies[0], keys, () => el("tr", {}, el("td"), el("td"), el("td"), el("td", {class:"num"}),
                                                     el("td", {class:"num"}), el("td", {class:"num"}), el("td"), el("td")));
  offs.forEach((o, i) => {
    const r = rows.get(keys[i]);
    attr(r, "data-district", o.district); attr(r, "data-reported", o.reported);
    attr(r, "data-silent", !!o.silent); attr(r, "data-waiting", o.reported ? o.waiting : "");
    cls(r, !o.reported ? "never" : o.silent ? "silent" : "");
    const c = r.cells;
    txt(c[0], o.district + " " + o.name); txt(c[1], o.office || "–"); txt(c[2], officeState(o));
    if (o.reported) { fig(c[3], o.waiting); fig(c[4], o.unsafe); fig(c[5], o.rejected); }
    else { txt(c[3], "–"); txt(c[4], "–"); txt(c[5], "–"); }
    txt(c[6], o.reported && o.oldest_ms ? new Date(o.oldest_ms).toLocaleString(loc()) : "–");
    txt(c[7], o.version || "–");
  });
  const panel = document.getElementById("hq-panel");
  panel.hidden = !hq.available;
  if (!hq.available) return;
  set("hq-role", (hq.role === "follower" ? t("follower_role") : t("primary")) + " · epoch " + hq.epoch);
  // without replication committed = safe = the report's seq (pushed with the report)
  const cs = hq.replication || !last ? [hq.committed, hq.safe] : [last.seq, last.seq];
  fig(document.getElementById("hq-committed"), cs[0]);
  fig(document.getElementById("hq-safe"), cs[1]);
  const al = document.getElementById("hq-alert");
  txt(al, hq.alert ? t("alert_on") : t("alert_off")); cls(al, "badge " + (hq.alert ? "stale" : "live"));
  attr(al, "data-alert", hq.alert);
  const ft = document.getElementById("followers");
  if (!ft.tHead) ft.append(el("thead", {}, el("tr")), el("tbody"));
  // per follower: durable lag (what safe waits for) and apply lag (received, not yet counted);
  // "–" where the aggregator sends no figure (an older one sends no apply fields)
  const fh = [t("follower"), t("acked"), t("dlag"), t("dlag_ms"), t("applied"), t("alag"), t("alag_ms")];
  keyed(ft.tHead.rows[0], fh.map((_, i) => String(i)), () => el("th")).forEach((c, i) => txt(c, fh[Number(i)]));
  const fl = hq.followers || [];
  const num = () => el("td", {class:"num"});
  const fr = keyed(ft.tBodies[0], fl.map(f => f.id), () => el("tr", {}, el("td"), num(), num(), num(), num(), num(), num()));
  const opt = (c, v) => { if (v !== undefined) fig(c, v); else { c.removeAttribute("data-v"); txt(c, "–"); } };
  fl.forEach(f => { const c = fr.get(f.id).cells; txt(c[0], f.id); fig(c[1], f.acked); fig(c[2], f.lag_records);
                    opt(c[3], f.lag_ms); opt(c[4], f.applied); opt(c[5], f.apply_lag_records); opt(c[6], f.apply_lag_ms); });
  renderGroup(hq.group || { mode: "manual" });
}
// The aggregator group (etcd election): who is primary, since when, the epoch, each member's lag.
function renderGroup(g) {
  const p = document.getElementById("hq-group");
  attr(p, "data-mode", g.mode); attr(p, "data-leader", g.leader || ""); attr(p, "data-epoch", g.epoch || 0);
  const mt = document.getElementById("members");
  mt.hidden = g.mode !== "etcd";
  if (g.mode !== "etcd") { txt(p, t("group") + ": " + t("mode_manual")); return; }
  const lagTxt = m => t("lag_word") + n0(m.lag_records) + t("records") + (m.lag_ms !== undefined ? " / " + n0(m.lag_ms) + " ms" : "");
  const ms = g.members || [];
  let s = t("group") + " " + g.name + " · ";
  if (g.leader) {
    s += t("primary_is") + g.leader;
    if (g.since_ms) s += t("since") + new Date(g.since_ms).toLocaleTimeString(loc(), { hour: "2-digit", minute: "2-digit" });
    s += ", " + t("epoch") + g.epoch;
    const fs = ms.filter(m => !m.leader);
    s += "; " + t("followers_are") + (fs.length ? fs.map(m => m.endpoint + lagTxt(m)).join(", ") : t("none"));
  } else s += t("no_leader");
  if (!g.accepting && g.role === "leader") s += " · " + t("read_only");
  if (!g.etcd_ok) s += " · " + t("etcd_down");
  if (g.lease_left_ms !== undefined && g.role === "leader") s += " · " + t("lease_left") + age(g.lease_left_ms);
  txt(p, s);
  if (!mt.tHead) mt.append(el("thead", {}, el("tr")), el("tbody"));
  const mh = [t("member"), t("role"), "epoch", t("head"), t("lag"), t("lag_ms")];
  keyed(mt.tHead.rows[0], mh.map((_, i) => String(i)), () => el("th")).forEach((c, i) => txt(c, mh[Number(i)]));
  const mr = keyed(mt.tBodies[0], ms.map(m => m.endpoint), () => el("tr", {}, el("td"), el("td"), el("td", {class:"num"}),
                                                            el("td", {class:"num"}), el("td", {class:"num"}), el("td", {class:"num"})));
  ms.forEach(m => { const r = mr.get(m.endpoint); attr(r, "data-leader", m.leader); const c = r.cells;
                    txt(c[0], m.endpoint); txt(c[1], m.leader ? t("leader_mark") : t("follower_role"));
                    txt(c[2], String(m.epoch)); fig(c[3], m.head); fig(c[4], m.lag_records);
                    txt(c[5], m.lag_ms !== undefined ? n0(m.lag_ms) + " ms" : "–"); });
}

// Units (PROTOCOL §4.5): when the campaign declares reorganizations the reporter also serves the
// report by the units in force (status-current.json) and by the original units
// (status-original.json); the switch picks one. null: the reporter's own (--units), as pushed.
let unitsSel = null;
function showUnits() {
  fetch("status-" + unitsSel + ".json" + suffix, { cache: "no-store" }).then(r => r.ok ? r.json() : null)
    .then(j => { if (j && j.seq !== undefined) render(j); }).catch(() => {});
}
function initUnits(main) {
  fetch("status-current.json" + suffix, { cache: "no-store" }).then(r => r.ok ? r.json() : null).then(cur => {
    if (!cur || cur.seq === undefined) return;
    const sw = document.getElementById("units-switch"), sel = document.getElementById("units");
    const m = Object.assign({}, main); delete m.hq;
    // the reporter's own projection is the one equal to its pushed report
    const own = JSON.stringify(m) === JSON.stringify(cur) ? "current" : "original";
    sel.value = own; sw.hidden = false;
    sel.onchange = () => { unitsSel = sel.value === own ? null : sel.value; if (unitsSel) showUnits(); else
      fetch("status.json" + suffix, { cache: "no-store" }).then(r => r.json()).then(s => { if (s && s.seq !== undefined) render(s); }).catch(() => {}); };
  }).catch(() => {});
}

let es = null, lastMsg = Date.now();
function connect() {
  if (es) es.close();
  es = null;
  if (done) return;
  es = new EventSource("events" + suffix);
  es.onopen = () => { sseOpen = true; lastMsg = Date.now(); showState(); };
  es.addEventListener("status", e => { lastMsg = Date.now(); if (unitsSel) { showUnits(); return; }
                                       try { render(JSON.parse(e.data)); } catch (x) { console.error(x); } });
  es.addEventListener("hq", e => { lastMsg = Date.now(); try { hq = JSON.parse(e.data); hqAt = Date.now(); renderHQ(); if (last && !route().code) renderLife(last); } catch (x) { console.error(x); } });
  es.addEventListener("feed", e => { lastMsg = Date.now(); try { feed = JSON.parse(e.data); feedAt = Date.now(); showState(); } catch (x) {} });
  es.onerror = () => { sseOpen = false; showState(); if (es && es.readyState === EventSource.CLOSED) setTimeout(connect, 2000); };
}
function setLang(l) { lang = l; localStorage.setItem("chitieu-lang", l); translate(); if (last) render(last); else showState(); renderHQ(); }
document.getElementById("lang-vi").onclick = () => setLang("vi");
document.getElementById("lang-en").onclick = () => setLang("en");
window.addEventListener("hashchange", () => { if (last) render(last); });
for (const a of document.querySelectorAll(".downloads a")) a.href = a.getAttribute("href") + suffix;
// Watchdog: the server sends "feed" every 5 s; silence means a dead link.
setInterval(() => {
  if (!done && Date.now() - lastMsg > 25000) { sseOpen = false; showState(); lastMsg = Date.now(); connect(); }
  else showState();
  renderHQ();
}, 1000);
translate(); showState();
fetch("status.json" + suffix, { cache: "no-store" }).then(r => r.json())
  .then(s => { if (s && s.hq && !hq) { hq = s.hq; hqAt = Date.now(); renderHQ(); }
               if (s && s.seq !== undefined) { if (!last || s.seq >= last.seq) render(s); initUnits(s); }
               else if (s && s.feed) { feed = s.feed; feedAt = Date.now(); showState(); } }).catch(() => {});
if (qs.get("live") !== "0") connect();
