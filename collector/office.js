// office.js — the office screen's behaviour (chitieu-collector serve).
// Every value from the server is put into the page with textContent or as an
// option's text/value: never as HTML. Forms go as urlencoded POSTs with the
// session's CSRF token and a fresh nonce per form ("form"), so a form sent
// twice records once. Vietnamese by default, English on the switch (kept in
// localStorage).
"use strict";

const T = {
  vi: {
    title: "Màn hình văn phòng", lang: "English", logout: "Đăng xuất", login: "Đăng nhập",
    user: "Tên đăng nhập", password: "Mật khẩu", record: "Ghi nhận người tham gia",
    staff: "Cán bộ", search: "Tìm…", program: "Chương trình", national_id: "Số CCCD (12 chữ số)",
    commune: "Xã / phường", months: "Số tháng", amount: "Số tiền (đồng)", group: "Nhóm hỗ trợ",
    time: "Thời gian", save: "Lưu", cancel_title: "Huỷ đăng ký", reason: "Lý do",
    confirm_cancel: "Xác nhận huỷ", back: "Quay lại", list: "Đã ghi nhận", today: "Hôm nay",
    campaign: "Cả chiến dịch", none_group: "(không)", queued: "Đã xếp hàng", delivered: "Đã gửi HQ",
    rejected: "Bị từ chối", cancelled: "đã huỷ", cancel: "Huỷ", resend: "Gửi lại",
    connected: "Đã kết nối HQ", not_connected: "Không kết nối HQ", unknown: "HQ: chưa rõ",
    waiting: "đang chờ gửi", last_answer: "lần trả lời cuối", never: "chưa bao giờ",
    no_run: "Chưa có tiến trình gửi (run)!", id_typing: "Còn thiếu chữ số", id_bad: "Chỉ được nhập chữ số",
    id_ok: "Đủ 12 chữ số", saved: "Đã xếp hàng", already: "Đã ghi nhận trước đó", by: "ghi bởi",
    entries: "bản ghi", cancel_of: "Huỷ", requeued: "Đã gửi lại",
    err_login: "Sai tên đăng nhập hoặc mật khẩu", not_safe: "chưa sao lưu ở HQ",
    cli: "dòng lệnh", import_title: "Nhập tệp CSV từ Excel",
    import_hint: "Tệp \"CSV UTF-8\" từ Excel, tối đa 5 MiB. Xem trước trước khi xếp hàng.",
    import_preview: "Xem trước", import_queue: "Xếp hàng các dòng hợp lệ",
    import_none: "Chọn một tệp", import_big: "Tệp lớn hơn 5 MiB: hãy chia thành các tệp nhỏ hơn",
    page_first: "Trang đầu", page_next: "Trang sau", totals: "Toàn bộ hộp thư",
    recorded: "đã ghi", choose: "(chọn)",
    void: "Hủy bỏ (nhập sai)", correct: "Sửa", void_title: "Hủy bỏ đăng ký nhập sai",
    correct_title: "Sửa đăng ký", reason_required: "Lý do (bắt buộc)", life_confirm: "Xác nhận",
    life_list: "Hủy bỏ và sửa", life_waiting: "đang chờ HQ", life_accepted: "HQ đã chấp nhận",
    life_rejected: "HQ từ chối", voided: "đã hủy bỏ (nhập sai)", corrected: "đã sửa",
    no_change: "Chưa thay đổi gì", reason_missing: "Hãy nhập lý do",
    kind_void: "Hủy bỏ", kind_correct: "Sửa", kind_target: "Chỉ tiêu", kind_close: "Khoá ngày",
    kind_reopen: "Mở lại ngày", kind_reorg: "Sắp xếp lại đơn vị",
    code_not_current: "đăng ký này không còn là đăng ký hiện hành của người này: đã bị huỷ hoặc thay thế",
    code_already_voided: "đăng ký này đã bị hủy bỏ trước đó",
    code_correct_conflict: "người này đã đăng ký chương trình mà bản sửa chuyển sang",
    code_unknown_event: "HQ không có đăng ký này ở vị trí đó",
    code_forbidden: "khoá của văn phòng không được phép gửi mục này",
    code_bad_value: "giá trị không hợp lệ (ví dụ bản sửa không thay đổi gì)",
  },
  en: {
    title: "Office screen", lang: "Tiếng Việt", logout: "Log out", login: "Log in",
    user: "Login", password: "Password", record: "Record a sign-up", staff: "Staff member",
    search: "Search…", program: "Program", national_id: "National ID (12 digits)",
    commune: "Commune / ward", months: "Months", amount: "Amount (VND)", group: "Subsidy group",
    time: "Time", save: "Save", cancel_title: "Cancel a sign-up", reason: "Reason",
    confirm_cancel: "Confirm cancel", back: "Back", list: "Recorded", today: "Today",
    campaign: "This campaign", none_group: "(none)", queued: "Queued", delivered: "Delivered to HQ",
    rejected: "Rejected", cancelled: "cancelled", cancel: "Cancel", resend: "Re-send",
    connected: "connected to HQ", not_connected: "not connected", unknown: "HQ: unknown",
    waiting: "waiting", last_answer: "last answer", never: "never",
    no_run: "No delivery process (run) is running!", id_typing: "Digits missing",
    id_bad: "Digits only", id_ok: "12 digits", saved: "Queued", already: "Recorded before",
    by: "recorded by", entries: "entries", cancel_of: "Cancel", requeued: "Re-sent",
    err_login: "Wrong login or password", not_safe: "not yet safe at HQ",
    cli: "command line", import_title: "Import a CSV file from Excel",
    import_hint: "A \"CSV UTF-8\" file from Excel, at most 5 MiB. Preview it before queueing.",
    import_preview: "Preview", import_queue: "Queue the good rows",
    import_none: "Choose a file", import_big: "The file is larger than 5 MiB: split it into smaller files",
    page_first: "First page", page_next: "Next page", totals: "Whole outbox",
    recorded: "recorded", choose: "(choose)",
    void: "Void (entered wrongly)", correct: "Correct", void_title: "Void a sign-up entered wrongly",
    correct_title: "Correct a sign-up", reason_required: "Reason (required)", life_confirm: "Confirm",
    life_list: "Voids and corrections", life_waiting: "waiting for HQ", life_accepted: "accepted by HQ",
    life_rejected: "refused by HQ", voided: "voided (entered wrongly)", corrected: "corrected",
    no_change: "Nothing changed", reason_missing: "Give a reason",
    kind_void: "Void", kind_correct: "Correction", kind_target: "Target", kind_close: "Day closed",
    kind_reopen: "Day reopened", kind_reorg: "Reorganization",
  },
};

let lang = localStorage.getItem("ct-lang") === "en" ? "en" : "vi";
let S = null;          // the session (GET /api/session)
let loginToken = "";
let formNonce = "";
let cancelSeq = 0, cancelNonce = "";
let lifeKind = "", lifeEvent = null, lifeNonce = "";
let lastList = null, lastStatus = null;
let pageAfter = 0;     // the list's cursor: entries after this seq
const UPLOAD_MAX = 5 * 1024 * 1024;

const $ = (id) => document.getElementById(id);
const t = (k) => T[lang][k] || k;

function nonce() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function applyLang() {
  document.documentElement.lang = lang;
  document.querySelectorAll("[data-t]").forEach((e) => { e.textContent = t(e.dataset.t); });
  document.querySelectorAll("[data-tp]").forEach((e) => { e.placeholder = t(e.dataset.tp); });
  fillGroups();
  if (S) fillCommunes($("commune-search").value);
  if (lastList) renderList(lastList);
  if (lastStatus) renderStatus(lastStatus);
  checkId();
}

async function api(method, path, fields) {
  const opt = { method, credentials: "same-origin", headers: {} };
  if (fields) {
    opt.headers["Content-Type"] = "application/x-www-form-urlencoded";
    opt.body = new URLSearchParams(fields).toString();
  }
  const r = await fetch(path, opt);
  let j;
  try { j = await r.json(); } catch (e) { j = { ok: false, error: "HTTP " + r.status }; }
  j.status = r.status;
  return j;
}

function show(logged) {
  $("login-box").hidden = logged;
  $("app").hidden = !logged;
  $("logout").hidden = !logged;
  $("conn").hidden = !logged;
}

async function loadSession() {
  const j = await api("GET", "/api/session");
  if (!j.ok) {
    S = null;
    loginToken = j.login_token || "";
    $("who").textContent = "";
    $("office").textContent = "";
    show(false);
    return;
  }
  startApp(j);
}

function startApp(j) {
  S = j;
  show(true);
  $("office").textContent = "— " + j.office + " (" + j.district + ")";
  $("who").textContent = j.user + " · " + j.role;
  fillAgents("");
  fillCommunes("");
  const p = $("program");
  p.replaceChildren();
  j.programs.forEach((x) => { const o = el("option", x.name); o.value = x.id; p.append(o); });
  fillGroups();
  resetRecord();
  refresh();
}

function fillAgents(filter) {
  const sel = $("agent");
  const keep = sel.value;
  sel.replaceChildren();
  const f = filter.trim().toLowerCase();
  S.roster.filter((a) => !f || a.id.toLowerCase().includes(f) || a.name.toLowerCase().includes(f))
    .forEach((a) => { const o = el("option", a.name + " (" + a.id + ")"); o.value = a.id; sel.append(o); });
  if (keep) sel.value = keep;
  if (!sel.value && S.agent) sel.value = S.agent;
}

// The unit's communes when the campaign lists them: a searchable select
// instead of free text (the server refuses a commune outside the list).
function fillCommunes(filter) {
  const listed = S.communes.length > 0;
  $("commune").hidden = listed;
  $("commune-search").hidden = !listed;
  $("commune-select").hidden = !listed;
  if (!listed) return;
  const sel = $("commune-select");
  const keep = sel.value;
  sel.replaceChildren();
  const none = el("option", t("choose")); none.value = ""; sel.append(none);
  const f = filter.trim().toLowerCase();
  S.communes.filter((c) => !f || c.toLowerCase().includes(f))
    .forEach((c) => { const o = el("option", c); o.value = c; sel.append(o); });
  sel.value = keep;
  // the one match of a search is picked; else the choice stays, or none
  if (sel.value !== keep || sel.value === "") sel.selectedIndex = sel.options.length === 2 ? 1 : 0;
}

function fillGroups() {
  if (!S) return;
  const g = $("group");
  const keep = g.value;
  g.replaceChildren();
  const none = el("option", t("none_group")); none.value = ""; g.append(none);
  S.groups.forEach((x) => { const o = el("option", x.name + " (" + x.id + ")"); o.value = x.id; g.append(o); });
  g.value = keep;
}

function localInput(iso) {
  // "2023-07-24T09:30:00+07:00" -> "2023-07-24T09:30:00" (campaign time)
  return iso ? iso.slice(0, 19) : "";
}

function resetRecord() {
  formNonce = nonce();
  $("national_id").value = "";
  $("time").value = localInput(S.now);
  clearErrors();
  checkId();
}

function clearErrors() {
  document.querySelectorAll("#record-form .err").forEach((e) => { e.textContent = ""; });
}

function checkId() {
  const v = $("national_id").value, m = $("err-national_id");
  if (!v) { m.textContent = ""; return; }
  if (!/^[0-9]*$/.test(v)) m.textContent = t("id_bad");
  else if (v.length < 12) m.textContent = t("id_typing") + " (" + v.length + "/12)";
  else m.textContent = "";
  $("national_id").dataset.ok = /^[0-9]{12}$/.test(v) ? "yes" : "no";
}

async function record(ev) {
  ev.preventDefault();
  clearErrors();
  $("record-result").textContent = "";
  $("record-submit").disabled = true;
  const f = {
    csrf: S.csrf, form: formNonce, agent: $("agent").value, program: $("program").value,
    national_id: $("national_id").value,
    commune: S.communes.length ? $("commune-select").value : $("commune").value, months: $("months").value,
    amount: $("amount").value, group: $("group").value, time: $("time").value,
  };
  try {
    const j = await api("POST", "/api/record", f);
    if (j.ok) {
      const r = $("record-result");
      r.textContent = (j.already ? t("already") : t("saved")) + ": " + j.id;
      r.dataset.id = j.id;
      r.dataset.seq = j.seq;
      resetRecord();
      refresh();
    } else if (j.status === 401) {
      loadSession();
    } else {
      const box = j.field && $("err-" + j.field);
      (box || $("record-error")).textContent = j.error;
    }
  } finally {
    $("record-submit").disabled = false;
  }
}

function askCancel(e) {
  cancelSeq = e.seq;
  cancelNonce = nonce();
  $("cancel-what").textContent = e.agent_name + " · " + e.program + " · " + e.time + " · " + e.id;
  $("cancel-reason").value = "";
  $("cancel-error").textContent = "";
  $("cancel-box").hidden = false;
  $("cancel-box").dataset.seq = e.seq;
  $("cancel-reason").focus();
}

async function confirmCancel(ev) {
  ev.preventDefault();
  const j = await api("POST", "/api/cancel", {
    csrf: S.csrf, form: cancelNonce, seq: String(cancelSeq), reason: $("cancel-reason").value,
    confirm: "yes",
  });
  if (j.ok) {
    $("cancel-box").hidden = true;
    refresh();
  } else {
    $("cancel-error").textContent = j.error;
  }
}

async function resend(seq) {
  const j = await api("POST", "/api/resend", { csrf: S.csrf, seq: String(seq) });
  if (j.ok) refresh();
}

// A life entry's state in words: waiting, accepted, or refused with the
// server's sentence (its code's Vietnamese sentence when there is one).
function lifeStateText(l) {
  if (l.state === "queued") return t("life_waiting");
  if (l.state === "rejected") {
    const msg = lang === "vi" && T.vi["code_" + l.reason_code] ? T.vi["code_" + l.reason_code] : l.reason;
    return t("life_rejected") + " (" + l.reason_code + "): " + msg;
  }
  return t("life_accepted");
}

function fillSelect(sel, items, value) {
  sel.replaceChildren();
  items.forEach(([v, label]) => { const o = el("option", label); o.value = v; sel.append(o); });
  sel.value = value;
}

// The void/correct form for a delivered sign-up e; kind "void" or "correct".
function askLife(kind, e) {
  lifeKind = kind;
  lifeEvent = e;
  lifeNonce = nonce();
  $("cancel-box").hidden = true;
  $("life-title").textContent = t(kind + "_title");
  $("life-what").textContent = e.agent_name + " · " + e.program + " · " + e.time + " · " + e.id;
  $("life-reason").value = "";
  document.querySelectorAll("#life-form .err").forEach((x) => { x.textContent = ""; });
  $("life-fields").hidden = kind !== "correct";
  if (kind === "correct") {
    const roster = S.roster.map((a) => [a.id, a.name + " (" + a.id + ")"]);
    if (!roster.some(([id]) => id === e.agent)) roster.unshift([e.agent, e.agent_name + " (" + e.agent + ")"]);
    fillSelect($("life-agent"), roster, e.agent);
    fillSelect($("life-program"), S.programs.map((p) => [p.id, p.name]), e.program);
    const listed = S.communes.length > 0;
    $("life-commune").hidden = listed;
    $("life-commune-select").hidden = !listed;
    if (listed) fillSelect($("life-commune-select"), [["", t("choose")]].concat(S.communes.map((c) => [c, c])), e.commune);
    else $("life-commune").value = e.commune;
    fillSelect($("life-group"), [["", t("none_group")]].concat(S.groups.map((g) => [g.id, g.name + " (" + g.id + ")"])), e.group);
  }
  $("life-box").hidden = false;
  $("life-box").dataset.kind = kind;
  $("life-box").dataset.event = e.id;
  $("life-reason").focus();
}

async function confirmLife(ev) {
  ev.preventDefault();
  document.querySelectorAll("#life-form .err").forEach((x) => { x.textContent = ""; });
  const e = lifeEvent;
  const f = { csrf: S.csrf, form: lifeNonce, event: e.id, reason: $("life-reason").value };
  if (!f.reason.trim()) { $("life-err-reason").textContent = t("reason_missing"); return; }
  if (lifeKind === "correct") {
    const commune = S.communes.length ? $("life-commune-select").value : $("life-commune").value;
    if ($("life-agent").value !== e.agent) f.agent = $("life-agent").value;
    if ($("life-program").value !== e.program) f.program = $("life-program").value;
    if (commune !== e.commune) f.commune = commune;
    if ($("life-group").value !== e.group) f.group = $("life-group").value;
    if (Object.keys(f).length === 4) { $("life-error").textContent = t("no_change"); return; }
  }
  $("life-confirm").disabled = true;
  try {
    const j = await api("POST", "/api/" + lifeKind, f);
    if (j.ok) {
      $("life-box").hidden = true;
      $("life-box").dataset.queued = j.id;
      refresh();
    } else if (j.status === 401) {
      loadSession();
    } else {
      const box = j.field && $("life-err-" + j.field);
      (box || $("life-error")).textContent = j.error;
    }
  } finally {
    $("life-confirm").disabled = false;
  }
}

function renderLifeList(lifeRows) {
  const tb = $("life-list");
  tb.replaceChildren();
  $("life-list-box").hidden = lifeRows.length === 0;
  lifeRows.forEach((l) => {
    const tr = el("tr");
    tr.dataset.seq = l.seq;
    tr.dataset.kind = l.kind;
    tr.dataset.state = l.state;
    if (l.reason_code) tr.dataset.code = l.reason_code;
    tr.append(el("td", (l.time || "").replace("T", " ").slice(0, 16)));
    tr.append(el("td", t("kind_" + l.kind) + (l.event ? " · " + l.event : "")));
    const chg = [];
    if (l.new_agent !== undefined) chg.push(t("staff") + ": " + l.new_agent);
    if (l.new_program !== undefined) chg.push(t("program") + ": " + l.new_program);
    if (l.new_commune !== undefined) chg.push(t("commune") + ": " + l.new_commune);
    if (l.new_group !== undefined) chg.push(t("group") + ": " + l.new_group);
    tr.append(el("td", chg.join(" · ")));
    tr.append(el("td", l.life_reason, "why"));
    tr.append(el("td", l.by, "by"));
    tr.append(el("td", lifeStateText(l), "state " + l.state));
    tb.append(tr);
  });
}

function stateText(e) {
  return t(e.state);
}

function renderList(j) {
  lastList = j;
  const all = $("scope").value === "all";
  const isLife = (e) => e.kind !== "record" && e.kind !== "cancel";
  const lifeRows = j.entries.filter(isLife);
  const lifeBy = new Map();
  lifeRows.forEach((l) => {
    if (!l.target_seq) return;
    if (!lifeBy.has(l.target_seq)) lifeBy.set(l.target_seq, []);
    lifeBy.get(l.target_seq).push(l);
  });
  renderLifeList(lifeRows);
  const rows = j.entries.filter((e) => !isLife(e) && (all || e.day === j.today));
  const by = new Map();
  rows.forEach((e) => {
    if (!by.has(e.agent)) by.set(e.agent, { name: e.agent_name, items: [] });
    by.get(e.agent).items.push(e);
  });
  const list = $("list");
  list.replaceChildren();
  const counts = { queued: 0, delivered: 0, rejected: 0 };
  rows.forEach((e) => { counts[e.state]++; });
  $("list-summary").textContent = rows.length + " " + t("entries") + " · " + t("queued") + " " +
    counts.queued + " · " + t("delivered") + " " + counts.delivered + " · " + t("rejected") + " " +
    counts.rejected;
  $("list-summary").dataset.queued = counts.queued;
  $("list-summary").dataset.delivered = counts.delivered;
  $("list-summary").dataset.rejected = counts.rejected;
  $("list-summary").dataset.total = rows.length;
  const tt = j.totals;
  $("list-totals").textContent = t("totals") + ": " + tt.recorded + " " + t("recorded") + " · " +
    t("waiting") + " " + tt.waiting + " · " + t("delivered") + " " + (tt.delivered + tt.committed_not_safe) +
    " · " + t("rejected") + " " + tt.rejected;
  $("page-first").hidden = j.after === 0;
  $("page-next").hidden = j.next === null;
  $("page-next").dataset.next = j.next === null ? "" : j.next;
  for (const [agent, g] of by) {
    const sec = el("div", null, "staff");
    sec.dataset.agent = agent;
    sec.append(el("h3", g.name + " (" + agent + ") — " + g.items.length));
    const tb = el("table");
    g.items.forEach((e) => {
      const tr = el("tr");
      tr.dataset.seq = e.seq;
      tr.dataset.state = e.state;
      tr.append(el("td", e.time.replace("T", " ").slice(0, 16)));
      tr.append(el("td", (e.action === "cancel" ? t("cancel_of") + " · " : "") + e.program));
      tr.append(el("td", e.commune));
      const st = el("td", stateText(e), "state " + e.state);
      if (e.safe === false) st.append(el("span", " · " + t("not_safe"), "unsafe"));
      if (e.cancelled_by) st.append(el("span", " · " + t("cancelled"), "cancelled"));
      const lives = lifeBy.get(e.seq) || [];
      let blocked = false;
      const cur = Object.assign({}, e); // as the accepted corrections leave it
      lives.forEach((l) => {
        if (l.kind === "correct" && l.state === "delivered") {
          if (l.new_agent !== undefined) {
            cur.agent = l.new_agent;
            cur.agent_name = (S.roster.find((a) => a.id === l.new_agent) || { name: l.new_agent }).name;
          }
          if (l.new_program !== undefined) cur.program = l.new_program;
          if (l.new_commune !== undefined) cur.commune = l.new_commune;
          if (l.new_group !== undefined) cur.group = l.new_group;
        }
        const d = el("div", t(l.kind === "void" ? "voided" : "corrected") + ": " + lifeStateText(l),
          "life " + l.state);
        d.dataset.kind = l.kind;
        d.dataset.state = l.state;
        if (l.reason_code) d.dataset.code = l.reason_code;
        st.append(d);
        if (l.state === "queued" || (l.kind === "void" && l.state !== "rejected")) blocked = true;
      });
      tr.append(st);
      const act = el("td");
      if (e.state === "rejected") {
        act.append(el("div", e.reason + " (" + e.reason_code + ")", "reason"));
        const b = el("button", t("resend"), "resend");
        b.type = "button";
        b.addEventListener("click", () => resend(e.seq));
        act.append(b);
      }
      if (e.kind === "record" && !e.cancelled_by && !blocked &&
          (S.role === "lead" || e.agent === S.agent)) {
        const b = el("button", t("cancel"), "cancel");
        b.type = "button";
        b.addEventListener("click", () => askCancel(e));
        act.append(b);
      }
      if (e.kind === "record" && e.action === "enroll" && e.state === "delivered" && e.q &&
          !e.cancelled_by && !blocked && (S.role === "lead" || e.agent === S.agent)) {
        ["void", "correct"].forEach((k) => {
          const b = el("button", t(k), k);
          b.type = "button";
          b.addEventListener("click", () => askLife(k, cur));
          act.append(b);
        });
      }
      if (e.cancel_reason) act.append(el("div", e.cancel_reason, "why"));
      act.append(el("div", t("by") + " " + (e.recorded_by === null ? t("cli") : e.recorded_by), "by"));
      tr.append(act);
      tb.append(tr);
    });
    sec.append(tb);
    list.append(sec);
  }
}

function renderStatus(j) {
  lastStatus = j;
  const c = $("conn");
  const state = j.connected === null ? "unknown" : j.connected ? "connected" : "disconnected";
  c.dataset.state = state;
  c.dataset.waiting = j.waiting;
  const head = state === "unknown" ? t("unknown") : state === "connected" ? t("connected") : t("not_connected");
  let s = head + ", " + j.waiting + " " + t("waiting") + " · " + t("last_answer") + ": " +
    (j.last_answer ? j.last_answer.replace("T", " ").slice(0, 19) : t("never"));
  if (!j.deliverer_running) s += " · " + t("no_run");
  c.textContent = s;
}

async function refresh() {
  if (!S) return;
  const [l, st] = await Promise.all([api("GET", "/api/list?after=" + pageAfter),
    api("GET", "/api/status")]);
  if (l.status === 401 || st.status === 401) { loadSession(); return; }
  if (l.ok) renderList(l);
  if (st.ok) renderStatus(st);
  document.body.dataset.refreshed = String(Date.now());
}

// The upload: the file's own bytes as a text/csv body, the CSRF token in a
// header; the server runs the command line's import on them and answers
// with its per-row report (preview: nothing queued).
async function sendImport(mode) {
  const f = $("import-file").files[0];
  $("import-error").textContent = "";
  if (!f) { $("import-error").textContent = t("import_none"); return null; }
  if (f.size > UPLOAD_MAX) { $("import-error").textContent = t("import_big"); return null; }
  const q = new URLSearchParams({ mode, name: f.name }).toString();
  const r = await fetch("/api/import?" + q, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "text/csv", "X-CSRF-Token": S.csrf }, body: await f.arrayBuffer(),
  });
  let j;
  try { j = await r.json(); } catch (e) { j = { ok: false, error: "HTTP " + r.status }; }
  j.status = r.status;
  if (j.status === 401) { loadSession(); return null; }
  const rep = $("import-report");
  rep.replaceChildren();
  (j.report || []).forEach((line) => {
    const m = /:(\d+): (.*)$/.exec(line);
    const li = el("li", line, /: (would queue|queued|already queued): /.test(line) ? "good" : "bad");
    if (m) li.dataset.line = m[1];
    rep.append(li);
  });
  $("import-summary").textContent = j.summary || "";
  if (!j.ok) $("import-error").textContent = j.error;
  return j;
}

async function previewImport(ev) {
  ev.preventDefault();
  $("import-queue").disabled = true;
  const j = await sendImport("preview");
  $("import-queue").disabled = !(j && j.ok && j.would_queue > 0);
  $("import-box").dataset.state = j ? (j.ok ? "previewed" : "refused") : "";
}

async function queueImport() {
  $("import-queue").disabled = true;
  const j = await sendImport("queue");
  $("import-box").dataset.state = j ? (j.ok ? "queued" : "refused") : "";
  if (j && j.ok) refresh();
}

async function login(ev) {
  ev.preventDefault();
  $("login-error").textContent = "";
  const j = await api("POST", "/api/login", {
    csrf: loginToken, user: $("login-user").value, password: $("login-password").value,
  });
  $("login-password").value = "";
  if (j.ok) startApp(j);
  else {
    $("login-error").textContent = j.status === 401 ? t("err_login") : j.error;
    if (j.status === 403) loadSession();
  }
}

async function logout() {
  await api("POST", "/api/logout", { csrf: S.csrf });
  S = null;
  loadSession();
}

document.addEventListener("DOMContentLoaded", () => {
  $("lang").addEventListener("click", () => {
    lang = lang === "vi" ? "en" : "vi";
    localStorage.setItem("ct-lang", lang);
    applyLang();
  });
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", logout);
  $("record-form").addEventListener("submit", record);
  $("agent-search").addEventListener("input", (e) => fillAgents(e.target.value));
  $("commune-search").addEventListener("input", (e) => fillCommunes(e.target.value));
  $("national_id").addEventListener("input", checkId);
  $("cancel-form").addEventListener("submit", confirmCancel);
  $("cancel-back").addEventListener("click", () => { $("cancel-box").hidden = true; });
  $("life-form").addEventListener("submit", confirmLife);
  $("life-back").addEventListener("click", () => { $("life-box").hidden = true; });
  $("scope").addEventListener("change", () => { if (lastList) renderList(lastList); });
  $("import-form").addEventListener("submit", previewImport);
  $("import-queue").addEventListener("click", queueImport);
  $("import-file").addEventListener("change", () => {
    $("import-queue").disabled = true;
    $("import-report").replaceChildren();
    $("import-summary").textContent = "";
    $("import-box").dataset.state = "";
  });
  $("page-next").addEventListener("click", () => { pageAfter = +$("page-next").dataset.next || 0; refresh(); });
  $("page-first").addEventListener("click", () => { pageAfter = 0; refresh(); });
  applyLang();
  loadSession();
  setInterval(refresh, 3000);
});
