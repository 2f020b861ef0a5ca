// labels.js — the words both live pages use for the same things: a feed's
// state and a verdict, in Vietnamese and English. One list, inlined at build
// time (cmake/inline.cmake) into page.html (the HQ page) and
// page_national.html (the national page), so both pages say the same thing
// in both languages. Keys are the report's values (feed state, verdict); a
// value not listed is shown as it is.
"use strict";
const FEED = { vi:{ live:"trực tiếp", lagging:"đang đồng bộ", stale:"mất tín hiệu", not_connected:"chưa kết nối",
                    campaign_mismatch:"sai chiến dịch", partial:"một phần" },
               en:{ live:"live", lagging:"resyncing", stale:"no signal", not_connected:"not connected",
                    campaign_mismatch:"wrong campaign", partial:"partial" } };
const VERDICT = { vi:{ reached:"đã đạt", on_track:"đúng tiến độ", at_risk:"có nguy cơ", not_started:"chưa bắt đầu", missed:"không đạt" },
                  en:{ reached:"reached", on_track:"on track", at_risk:"at risk", not_started:"not started", missed:"missed" } };
