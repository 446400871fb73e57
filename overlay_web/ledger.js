/* ledger.html (台账): one day's figures for the 1+9 rooms, from /api/staff/ledger.
 * Charts are SVG built with createElementNS; every server string goes in as text. */
(function () {
  'use strict';

  const C = window.GovliveCommon;
  const SVG_NS = 'http://www.w3.org/2000/svg';
  const TARGET_RATE = 0.6; // 在线即答率 target
  const NOTICE_MS = 6000;
  const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

  // Read by tests.
  const govlive = { ledger: null, lastError: null };
  window.govlive = govlive;

  const $ = (id) => document.getElementById(id);
  const ui = {
    date: $('ledger-date'),
    prev: $('ledger-prev'),
    next: $('ledger-next'),
    today: $('ledger-today'),
    xlsx: $('export-xlsx'),
    csv: $('export-csv'),
    staffLink: $('staff-link'),
    pageMessage: $('page-message'),
    heading: $('ledger-heading'),
    comments: $('fig-comments'),
    questions: $('fig-questions'),
    answered: $('fig-answered'),
    rateCard: $('answer-rate-card'),
    rate: $('answer-rate'),
    rateMeter: $('rate-meter-wrap'),
    rateVerdict: $('answer-rate-verdict'),
    orders: $('fig-orders'),
    dispatched: $('fig-dispatched'),
    ontime: $('fig-ontime'),
    overdue: $('fig-overdue'),
    satisfaction: $('fig-satisfaction'),
    chart: $('overview-chart'),
    chartEmpty: $('overview-empty'),
    topics: $('top-topics'),
    topicsEmpty: $('topics-empty'),
    body: $('ledger-body'),
    foot: $('ledger-foot'),
    rowsEmpty: $('rows-empty'),
    notices: $('notices'),
  };

  const token = C.readParams({ keep: 'staff' }).token;
  let fatal = false;
  let loadSeq = 0;

  // ---- helpers ------------------------------------------------------

  function pad2(n) {
    return String(n).padStart(2, '0');
  }

  /** Today in Asia/Shanghai (UTC+8 all year, no daylight saving). */
  function todayShanghai() {
    return new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);
  }

  function shiftDate(ymd, days) {
    const [y, m, d] = ymd.split('-').map(Number);
    const t = new Date(Date.UTC(y, m - 1, d + days));
    return t.getUTCFullYear() + '-' + pad2(t.getUTCMonth() + 1) + '-' + pad2(t.getUTCDate());
  }

  function validDate(s) {
    if (typeof s !== 'string' || !DATE_RE.test(s)) return false;
    return shiftDate(s, 0) === s;
  }

  function num(v) {
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  }

  function intText(v) {
    const n = num(v);
    return n === null ? '—' : String(n);
  }

  function pctText(v) {
    const n = num(v);
    if (n === null) return '—';
    return (Math.round(n * 1000) / 10).toString() + '%';
  }

  function rateClass(v) {
    const n = num(v);
    if (n === null) return 'rate-none';
    return n >= TARGET_RATE ? 'rate-good' : 'rate-bad';
  }

  function shortRoomName(name, id) {
    const s = typeof name === 'string' && name ? name : (id || '');
    const short = s.replace(/政务服务直播间$/, '').replace(/直播间$/, '');
    if (!short) return s;
    return short.length < 2 ? short + '本级' : short;
  }

  function svg(tag, attrs, className) {
    const node = document.createElementNS(SVG_NS, tag);
    if (className) node.setAttribute('class', className);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        node.setAttribute(k, String(attrs[k]));
      });
    }
    return node;
  }

  function svgText(x, y, text, className, anchor) {
    const t = svg('text', { x: x, y: y, 'text-anchor': anchor || 'middle' }, className);
    t.textContent = text == null ? '' : String(text);
    return t;
  }

  function svgTitle(text) {
    const t = svg('title');
    t.textContent = text;
    return t;
  }

  function showPageMessage(text) {
    C.showMessage(ui.pageMessage, text);
  }

  function notify(text, kind) {
    C.notice(ui.notices, text, kind, NOTICE_MS);
  }

  function fail(message) {
    fatal = true;
    govlive.lastError = message;
    C.setBodyState('error');
    showPageMessage(message);
  }

  function detailOf(data, text) {
    if (data && typeof data === 'object' && !Array.isArray(data) && 'detail' in data) {
      const d = data.detail;
      if (typeof d === 'string') return d;
      try {
        return JSON.stringify(d);
      } catch (err) {
        return String(d);
      }
    }
    return (text || '').trim().slice(0, 300);
  }

  // ---- links --------------------------------------------------------

  // The export links carry no token: a click fetches the file with the
  // Authorization header and saves it from an object URL.
  function exportHref(date, format) {
    return '/api/staff/ledger/export?date=' + encodeURIComponent(date) + '&format=' + format;
  }

  async function download(ev) {
    ev.preventDefault();
    const link = ev.currentTarget;
    const url = link.getAttribute('href');
    const name = link.getAttribute('download') || 'govlive-ledger';
    let res;
    let blob;
    try {
      res = await fetch(url, { headers: { Authorization: 'Bearer ' + token }, cache: 'no-store' });
      blob = res.ok ? await res.blob() : null;
    } catch (err) {
      govlive.lastError = '网络错误，导出失败';
      notify(govlive.lastError, 'error');
      return;
    }
    if (res.status === 401) {
      fail('令牌无效');
      return;
    }
    if (!blob) {
      let text = '';
      try { text = await res.text(); } catch (err) { text = ''; }
      let data = null;
      try { data = JSON.parse(text); } catch (err) { data = null; }
      govlive.lastError = '导出失败：' + (detailOf(data, text) || 'HTTP ' + res.status);
      notify(govlive.lastError, 'error');
      return;
    }
    const objectUrl = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = objectUrl;
    a.download = name;
    a.hidden = true;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(objectUrl); }, 60000);
  }

  function setLinks(date) {
    ui.xlsx.href = exportHref(date, 'xlsx');
    ui.csv.href = exportHref(date, 'csv');
    ui.xlsx.setAttribute('download', 'govlive-ledger-' + date + '.xlsx');
    ui.csv.setAttribute('download', 'govlive-ledger-' + date + '.csv');
    try {
      const q = new URLSearchParams(window.location.search);
      q.set('date', date);
      history.replaceState(null, '', window.location.pathname + '?' + q.toString());
    } catch (err) { /* ignore */ }
  }

  // ---- rendering ----------------------------------------------------

  function renderHeadline(t) {
    C.setText(ui.comments, intText(t.comments));
    C.setText(ui.questions, intText(t.questions));
    C.setText(ui.answered, intText(t.answered_live));
    C.setText(ui.orders, intText(t.work_orders_opened));
    const opened = num(t.work_orders_opened);
    C.setText(ui.dispatched, intText(t.dispatched_within_1h) + (opened !== null && num(t.dispatched_within_1h) !== null ? ' / ' + opened : ''));
    C.setText(ui.ontime, intText(t.closed_on_time));
    C.setText(ui.overdue, intText(t.overdue));
    ui.overdue.classList.toggle('is-bad', (num(t.overdue) || 0) > 0);
    C.setText(ui.satisfaction, pctText(t.satisfaction));

    const rate = num(t.answer_rate);
    C.setText(ui.rate, pctText(rate));
    ui.rateCard.classList.remove('rate-good', 'rate-bad', 'rate-none');
    ui.rateCard.classList.add(rateClass(rate));
    C.setText(ui.rateVerdict, rate === null ? '当天没有政务提问'
      : rate >= TARGET_RATE ? '达到 60% 目标' : '低于 60% 目标');

    // A meter with a marker at the target.
    const W = 200;
    const meter = svg('svg', { viewBox: '0 0 ' + W + ' 26', width: W, height: 26, 'aria-hidden': 'true' }, 'rate-meter');
    meter.appendChild(svg('rect', { x: 0, y: 6, width: W, height: 10, rx: 5 }, 'meter-track'));
    if (rate !== null) {
      const w = Math.max(0, Math.min(1, rate)) * W;
      meter.appendChild(svg('rect', { x: 0, y: 6, width: w.toFixed(1), height: 10, rx: 5 }, 'meter-fill ' + rateClass(rate)));
    }
    const tx = TARGET_RATE * W;
    meter.appendChild(svg('line', { x1: tx, x2: tx, y1: 2, y2: 20 }, 'meter-target'));
    ui.rateMeter.replaceChildren(meter);
  }

  function niceMax(v) {
    if (v <= 5) return 5;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) {
      if (m * p >= v) return m * p;
    }
    return 10 * p;
  }

  function renderOverview(rooms) {
    const list = rooms.filter((r) => r && typeof r === 'object');
    const total = list.reduce((s, r) => s + (num(r.comments) || 0), 0);
    ui.chartEmpty.hidden = total > 0;
    const W = 760;
    const H = 270;
    const padL = 40;
    const padR = 10;
    const padT = 40;
    const padB = 46;
    const plotW = W - padL - padR;
    const plotH = H - padT - padB;
    const max = niceMax(Math.max(1, ...list.map((r) => num(r.comments) || 0)));
    const chart = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, id: 'overview-svg', preserveAspectRatio: 'xMidYMid meet' }, 'chart-svg');

    // Grid and axis labels.
    [0, 0.5, 1].forEach(function (f) {
      const y = padT + plotH - f * plotH;
      chart.appendChild(svg('line', { x1: padL, x2: W - padR, y1: y.toFixed(1), y2: y.toFixed(1) }, f === 0 ? 'axis' : 'grid'));
      chart.appendChild(svgText(padL - 6, (y + 4).toFixed(1), String(Math.round(max * f)), 'axis-label', 'end'));
    });
    chart.appendChild(svgText(padL - 6, padT - 26, '留言数', 'axis-title', 'start'));

    const n = Math.max(1, list.length);
    const slot = plotW / n;
    const barW = Math.min(46, slot * 0.58);
    list.forEach(function (r, i) {
      const comments = num(r.comments) || 0;
      const h = (comments / max) * plotH;
      const cx = padL + slot * i + slot / 2;
      const top = padT + plotH - h;
      const g = svg('g', { 'data-room': typeof r.room === 'string' ? r.room : '' }, 'bar-group' + (i === 0 ? ' is-city' : ''));
      g.appendChild(svgTitle((r.room_name || r.room || '') + '：留言 ' + intText(r.comments) + '，政务提问 ' + intText(r.questions) +
        '，在线即答 ' + intText(r.answered_live) + '，即答率 ' + pctText(r.answer_rate) +
        '，转工单 ' + intText(r.work_orders_opened) + '，超期 ' + intText(r.overdue)));
      g.appendChild(svg('rect', {
        x: (cx - barW / 2).toFixed(1), y: top.toFixed(1), width: barW.toFixed(1), height: Math.max(h, comments > 0 ? 1 : 0).toFixed(1), rx: 2,
      }, 'bar ' + rateClass(r.answer_rate)));
      g.appendChild(svgText(cx.toFixed(1), (top - 4).toFixed(1), String(comments), 'bar-value'));
      g.appendChild(svgText(cx.toFixed(1), (top - 18).toFixed(1), pctText(r.answer_rate), 'bar-rate ' + rateClass(r.answer_rate)));
      g.appendChild(svgText(cx.toFixed(1), (padT + plotH + 18).toFixed(1), shortRoomName(r.room_name, r.room), 'bar-label'));
      g.appendChild(svgText(cx.toFixed(1), (padT + plotH + 34).toFixed(1),
        '提问 ' + intText(r.questions), 'bar-sublabel'));
      chart.appendChild(g);
    });
    if (list.length > 1) {
      // 1 + 9: the city room, then the nine counties and districts.
      const x = (padL + slot).toFixed(1);
      chart.appendChild(svg('line', { x1: x, x2: x, y1: padT - 6, y2: padT + plotH + 40 }, 'divider'));
    }
    ui.chart.replaceChildren(chart);
  }

  function sparkline(trend) {
    const pts = trend.filter((p) => p && typeof p === 'object');
    const W = 112;
    const H = 30;
    const s = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, width: W, height: H }, 'sparkline');
    s.appendChild(svgTitle('近 7 日：' + pts.map((p) => (typeof p.date === 'string' ? p.date.slice(5) : '') + ' ' + intText(p.count)).join('，')));
    if (pts.length === 0) return s;
    const max = Math.max(1, ...pts.map((p) => num(p.count) || 0));
    const step = pts.length > 1 ? (W - 8) / (pts.length - 1) : 0;
    const coords = pts.map(function (p, i) {
      const x = 4 + step * i;
      const y = H - 4 - ((num(p.count) || 0) / max) * (H - 8);
      return [x, y];
    });
    s.appendChild(svg('line', { x1: 4, x2: W - 4, y1: H - 4, y2: H - 4 }, 'spark-base'));
    const area = coords.map((c) => c[0].toFixed(1) + ',' + c[1].toFixed(1));
    s.appendChild(svg('polygon', {
      points: [coords[0][0].toFixed(1) + ',' + (H - 4)].concat(area, [coords[coords.length - 1][0].toFixed(1) + ',' + (H - 4)]).join(' '),
    }, 'spark-area'));
    s.appendChild(svg('polyline', { points: area.join(' ') }, 'spark-line'));
    const last = coords[coords.length - 1];
    s.appendChild(svg('circle', { cx: last[0].toFixed(1), cy: last[1].toFixed(1), r: 2.8 }, 'spark-last'));
    return s;
  }

  function renderTopics(topics) {
    const items = [];
    topics.forEach(function (t, i) {
      if (!t || typeof t !== 'object') return;
      const li = C.el('li', 'topic');
      li.appendChild(C.el('span', 'topic-rank', String(i + 1)));
      li.appendChild(C.el('span', 'topic-name', t.topic || ''));
      li.appendChild(C.el('span', 'topic-count', intText(t.count) + ' 次'));
      const trend = Array.isArray(t.trend) ? t.trend : [];
      li.appendChild(sparkline(trend));
      const week = trend.reduce((s, p) => s + ((p && num(p.count)) || 0), 0);
      li.appendChild(C.el('span', 'topic-week', '7 日 ' + week));
      items.push(li);
    });
    ui.topics.replaceChildren(...items);
    ui.topicsEmpty.hidden = items.length > 0;
  }

  const COLUMNS = [
    ['comments', intText], ['questions', intText], ['answered_live', intText], ['answer_rate', pctText],
    ['suggested', intText], ['work_orders_opened', intText], ['dispatched_within_1h', intText],
    ['closed_on_time', intText], ['overdue', intText], ['satisfaction', pctText],
  ];

  function tableRow(r, first, second, className) {
    const tr = C.el('tr', className);
    if (typeof r.room === 'string') tr.dataset.room = r.room;
    if (typeof r.platform === 'string') tr.dataset.platform = r.platform;
    tr.appendChild(C.el('th', 'room-cell', first));
    tr.lastChild.setAttribute('scope', 'row');
    tr.appendChild(C.el('td', 'platform-cell', second));
    COLUMNS.forEach(function (col) {
      const td = C.el('td', 'num col-' + col[0], col[1](r[col[0]]));
      if (col[0] === 'answer_rate') td.classList.add(rateClass(r.answer_rate));
      if (col[0] === 'overdue' && (num(r.overdue) || 0) > 0) td.classList.add('is-bad');
      tr.appendChild(td);
    });
    return tr;
  }

  function renderRows(rows, totals) {
    const out = [];
    let prevRoom = null;
    rows.forEach(function (r) {
      if (!r || typeof r !== 'object') return;
      const newRoom = r.room !== prevRoom;
      prevRoom = r.room;
      const tr = tableRow(r, newRoom ? (r.room_name || r.room || '') : '',
        r.platform ? (C.platformName(r.platform) || r.platform) : '全部平台', 'ledger-row' + (newRoom ? ' room-start' : ''));
      out.push(tr);
    });
    ui.body.replaceChildren(...out);
    ui.rowsEmpty.hidden = out.length > 0;
    ui.foot.replaceChildren();
    if (totals && typeof totals === 'object') {
      ui.foot.appendChild(tableRow(totals, '全部直播间', '合计', 'totals-row'));
    }
  }

  function render(data) {
    const totals = data.totals && typeof data.totals === 'object' ? data.totals : {};
    C.setText(ui.heading, (typeof data.date === 'string' ? data.date : '') + ' 台账（北京时间）');
    renderHeadline(totals);
    renderOverview(Array.isArray(data.rooms) ? data.rooms : []);
    renderTopics(Array.isArray(data.top_topics) ? data.top_topics : []);
    renderRows(Array.isArray(data.rows) ? data.rows : [], data.totals);
  }

  // ---- loading ------------------------------------------------------

  async function load(date) {
    if (fatal) return;
    if (!validDate(date)) {
      govlive.lastError = '日期格式应为 YYYY-MM-DD';
      notify('日期格式应为 YYYY-MM-DD', 'error');
      return;
    }
    const seq = ++loadSeq;
    setLinks(date);
    document.body.classList.add('is-loading');
    let res;
    try {
      res = await fetch('/api/staff/ledger?date=' + encodeURIComponent(date), {
        headers: { Authorization: 'Bearer ' + token },
        cache: 'no-store',
      });
    } catch (err) {
      if (seq !== loadSeq) return;
      document.body.classList.remove('is-loading');
      govlive.lastError = '网络错误，请检查连接后重试';
      notify(govlive.lastError, 'error');
      if (!govlive.ledger) showPageMessage('加载台账失败：' + govlive.lastError);
      return;
    }
    let text = '';
    try {
      text = await res.text();
    } catch (err) {
      text = '';
    }
    if (seq !== loadSeq) return;
    document.body.classList.remove('is-loading');
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (err) {
      data = null;
    }
    if (res.status === 401) {
      fail('令牌无效');
      return;
    }
    if (!res.ok || !data || typeof data !== 'object') {
      const detail = res.ok ? '服务器返回的数据无法解析' : (detailOf(data, text) || 'HTTP ' + res.status);
      govlive.lastError = detail;
      notify(detail, 'error');
      if (!govlive.ledger) showPageMessage('加载台账失败：' + detail);
      return;
    }
    showPageMessage('');
    govlive.ledger = data;
    render(data);
    if (typeof data.date === 'string' && validDate(data.date) && data.date !== ui.date.value) {
      ui.date.value = data.date;
      setLinks(data.date);
    }
    C.setBodyState('ready');
  }

  function go(date) {
    ui.date.value = date;
    load(date);
  }

  function main() {
    if (!token) {
      fail('缺少 token 参数：请使用 ?token=令牌 打开本页面');
      return;
    }
    ui.staffLink.href = '/staff'; // the token travels in sessionStorage, never in a URL
    ui.xlsx.addEventListener('click', download);
    ui.csv.addEventListener('click', download);
    const q = new URLSearchParams(window.location.search);
    const asked = (q.get('date') || '').trim();
    const start = validDate(asked) ? asked : todayShanghai();
    ui.date.value = start;
    ui.date.max = todayShanghai();

    ui.date.addEventListener('change', function () {
      if (validDate(ui.date.value)) load(ui.date.value);
    });
    ui.prev.addEventListener('click', function () {
      go(shiftDate(validDate(ui.date.value) ? ui.date.value : todayShanghai(), -1));
    });
    ui.next.addEventListener('click', function () {
      go(shiftDate(validDate(ui.date.value) ? ui.date.value : todayShanghai(), 1));
    });
    ui.today.addEventListener('click', function () { go(todayShanghai()); });
    load(start);
  }

  main();
})();
