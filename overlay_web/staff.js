/* staff.html: the staff desk. Two tabs: 待处理留言 (unanswered comments grouped
 * by question: answer into the bank, file as work orders, or dismiss) and
 * 工单看板 (the work-order board: dispatch, accept, return, close, revisit).
 * All server strings go in through textContent / createElement. */
(function () {
  'use strict';

  const C = window.GovliveCommon;
  const NOTICE_MS = 5000;
  const TICK_MS = 5000;            // retry interval until the first load succeeds
  const REFRESH_MS = 30000;        // auto refresh of both lists and the summary
  const ANSWER_MAX = 120;
  const SIMILAR_MAX = 5;

  const DOMAINS = [
    ['医疗保障', 'yibao', '市医疗保障局'],
    ['社会保险', 'shebao', '市人力资源和社会保障局'],
    ['住房公积金', 'gongjijin', '市住房公积金管理中心'],
    ['不动产登记', 'budongchan', '市不动产登记中心'],
    ['税务', 'shuiwu', '市税务局'],
    ['户籍与身份证', 'huji', '市公安局户政管理支队'],
    ['交通管理', 'jiaoguan', '市公安局交通警察支队车辆管理所'],
    ['出入境', 'churujing', '市公安局出入境管理支队'],
    ['市场主体登记', 'shichang', '市市场监督管理局'],
    ['就业创业与人才', 'jiuye', '市人力资源和社会保障局'],
    ['民政与社会救助', 'minzheng', '市民政局'],
    ['教育入学', 'jiaoyu', '市教育局'],
    ['卫生健康与生育', 'weijian', '市卫生健康委员会'],
    ['住房与城乡建设', 'zhujian', '市住房和城乡建设局'],
    ['法律服务与公证', 'falv', '市司法局'],
    ['政务服务综合', 'zonghe', '市政务服务中心'],
  ];
  const DOMAIN_BY_NAME = new Map(DOMAINS.map((d) => [d[0], d]));
  const DOMAIN_BY_SLUG = new Map(DOMAINS.map((d) => [d[1], d]));

  const COLOUR_TEXT = { green: '绿', yellow: '黄', red: '红' };
  const COMPLEXITY_TEXT = { ordinary: '一般', complex: '复杂' };
  const INTENT_TEXT = { question: '咨询', request: '个案诉求', complaint: '投诉', chitchat: '闲聊', spam: '垃圾信息', abuse: '不文明用语' };
  const SOURCE_TEXT = { control: '场控转办', staff: '人工转办', pipeline: '自动转办', auto: '自动转办', system: '自动转办' };
  const ACTION_TEXT = {
    file: '登记', dispatch: '派单', accept: '签收', return: '退回', close: '办结', revisit: '回访',
    reopen: '重办', warn: '时限提醒', notify: '通知',
  };
  const CONTACT_TEXT = { mobile: '手机', phone: '电话', landline: '座机', id_card: '身份证', idcard: '身份证', email: '邮箱', wechat: '微信', qq: 'QQ' };
  const CHANGE_TEXT = {
    status: '状态', department: '部门', complexity: '复杂度', reason: '原因', resolution: '办理结果', note: '备注',
    satisfied: '满意', revisit_note: '回访备注', dispatch_due: '派单时限', resolve_due: '办结时限',
    dispatched_at: '派单时间', accepted_at: '签收时间', closed_at: '办结时间', revisited_at: '回访时间',
    reopen_count: '重办次数', returned_count: '退回次数', provisional: '待定时限', provisional_reason: '待定原因',
    suggested_department: '建议部门', clock_started_at: '计时起点',
  };

  // Read by tests.
  const govlive = { reviewKeys: [], orderIds: [], lastError: null };
  window.govlive = govlive;

  const $ = (id) => document.getElementById(id);
  const ui = {
    tabReview: $('tab-review'),
    tabBoard: $('tab-board'),
    panelReview: $('panel-review'),
    panelBoard: $('panel-board'),
    reviewCount: $('review-count'),
    boardCount: $('board-count'),
    ledgerLink: $('ledger-link'),
    openOrders: $('open-orders'),
    outbox: $('outbox-status'),
    reindex: $('reindex-status'),
    calWarning: $('calendar-warning'),
    calWarningList: $('calendar-warning-list'),
    pageMessage: $('page-message'),
    reviewRoom: $('review-room'),
    reviewRefresh: $('review-refresh'),
    reviewUpdated: $('review-updated'),
    reviewEmpty: $('review-empty'),
    reviewList: $('review-list'),
    fRoom: $('f-room'),
    fDepartment: $('f-department'),
    fStatus: $('f-status'),
    fColour: $('f-colour'),
    boardRefresh: $('board-refresh'),
    boardUpdated: $('board-updated'),
    boardEmpty: $('board-empty'),
    deptOptions: $('department-options'),
    ordersBody: $('orders-body'),
    notices: $('notices'),
  };

  const params = C.readParams({ keep: 'staff' });
  const token = params.token;
  const st = {
    fatal: false,
    reviewLoaded: false,
    boardLoaded: false,
    ready: false,
    reviewSeq: 0,
    boardSeq: 0,
    reviewBusy: false,
    boardBusy: false,
    lastReviewAt: 0,
    lastBoardAt: 0,
    lastSummaryAt: 0,
    roomNames: new Map(),        // room id -> name (from the ledger, when it loads)
    reviewRooms: new Set(),      // rooms seen in review groups
    boardRooms: new Set(),       // rooms seen in orders
    departments: new Set(DOMAINS.map((d) => d[2])),
    expanded: new Set(),         // review group keys whose comments are shown
    groups: new Map(),           // key -> {group, li}
    orders: new Map(),           // id (string) -> {order, tr}
  };

  // ---- small helpers ------------------------------------------------

  function pad2(n) {
    return String(n).padStart(2, '0');
  }

  /** MM-DD of an ISO timestamp, in its own offset's wall time when it has one. */
  function formatDate(iso) {
    if (typeof iso !== 'string' || iso === '') return '';
    const m = /^(\d{4})-(\d{2})-(\d{2})T.*[+-]\d{2}:?\d{2}$/.exec(iso);
    if (m) return m[2] + '-' + m[3];
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return '';
    return pad2(d.getMonth() + 1) + '-' + pad2(d.getDate());
  }

  function formatDateTime(iso) {
    const d = formatDate(iso);
    const t = C.formatTime(iso);
    return (d && t) ? d + ' ' + t : (d || t || '');
  }

  function timeEl(iso, className) {
    const t = C.el('time', className || 'time', formatDateTime(iso) || '—');
    if (typeof iso === 'string' && iso) t.setAttribute('datetime', iso);
    return t;
  }

  function roomLabel(room) {
    if (typeof room !== 'string') return '';
    return st.roomNames.get(room) || room;
  }

  /** 城东区政务服务直播间 -> 城东区; 市政务服务直播间 -> 市本级. */
  function shortRoomLabel(room) {
    const full = roomLabel(room);
    const short = full.replace(/政务服务直播间$/, '').replace(/直播间$/, '');
    if (!short) return full;
    return short.length < 2 ? short + '本级' : short;
  }

  function button(className, text, title) {
    const b = C.el('button', 'btn ' + className, text);
    b.type = 'button';
    if (title) b.title = title;
    return b;
  }

  function platformBadge(platform) {
    const p = typeof platform === 'string' ? platform : '';
    const badge = C.el('span', 'platform', C.platformName(p) || '未知平台');
    if (/^[a-z0-9_]+$/.test(p)) badge.classList.add('platform-' + p);
    return badge;
  }

  function contactList(contact) {
    const wrap = C.el('span', 'contacts');
    (Array.isArray(contact) ? contact : []).forEach(function (c) {
      if (!c || typeof c !== 'object') return;
      const kind = typeof c.kind === 'string' ? c.kind : '';
      const label = Object.prototype.hasOwnProperty.call(CONTACT_TEXT, kind) ? CONTACT_TEXT[kind] : (kind || '联系方式');
      const chip = C.el('span', 'contact');
      chip.appendChild(C.el('span', 'contact-kind', label));
      chip.appendChild(C.el('span', 'contact-value', c.value == null ? '' : String(c.value)));
      wrap.appendChild(chip);
    });
    return wrap;
  }

  function piiTag() {
    const t = C.el('span', 'pii-tag', '个人信息');
    t.title = '未脱敏的原文和联系方式，仅供工作人员回访使用，请勿外传';
    return t;
  }

  // ---- page-level state ---------------------------------------------

  function showPageMessage(text) {
    C.showMessage(ui.pageMessage, text);
  }

  function notify(text, kind) {
    C.notice(ui.notices, text, kind, kind === 'error' ? NOTICE_MS * 2 : NOTICE_MS);
  }

  function recordError(text) {
    govlive.lastError = text;
  }

  function notifyError(text) {
    recordError(text);
    notify(text, 'error');
  }

  function fail(message) {
    st.fatal = true;
    recordError(message);
    C.setBodyState('error');
    showPageMessage(message);
    ui.reviewEmpty.hidden = true;
    ui.boardEmpty.hidden = true;
  }

  function maybeReady() {
    if (!st.ready && !st.fatal && st.reviewLoaded && st.boardLoaded) {
      st.ready = true;
      C.setBodyState('ready');
    }
  }

  // ---- HTTP ---------------------------------------------------------

  /** The server's `detail`: a string as it is, anything else (a FastAPI validation list) as JSON. */
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

  /**
   * fetch with the bearer token. Resolves to {ok, status, data, detail};
   * status 0 is a network error. A 401 stops the page (令牌无效).
   */
  async function api(method, path, body) {
    const init = {
      method: method,
      headers: { Authorization: 'Bearer ' + token },
      cache: 'no-store',
    };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(path, init);
    } catch (err) {
      return { ok: false, status: 0, data: null, detail: '网络错误，请检查连接后重试' };
    }
    let text = '';
    try {
      text = await res.text();
    } catch (err) {
      text = '';
    }
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (err) {
      data = null;
    }
    if (res.status === 401) {
      fail('令牌无效');
      return { ok: false, status: 401, data: data, detail: '令牌无效' };
    }
    if (res.ok) return { ok: true, status: res.status, data: data, detail: '' };
    const detail = detailOf(data, text) || ('HTTP ' + res.status);
    return { ok: false, status: res.status, data: data, detail: detail };
  }

  function query(path, values) {
    const q = new URLSearchParams();
    Object.keys(values).forEach(function (k) {
      const v = values[k];
      if (v != null && String(v).trim() !== '') q.set(k, String(v).trim());
    });
    const s = q.toString();
    return s ? path + '?' + s : path;
  }

  function stamp(node) {
    const now = new Date();
    C.setText(node, '更新于 ' + pad2(now.getHours()) + ':' + pad2(now.getMinutes()) + ':' + pad2(now.getSeconds()));
  }

  // ---- tabs ---------------------------------------------------------

  function showTab(name) {
    const board = name === 'board';
    ui.tabReview.setAttribute('aria-selected', board ? 'false' : 'true');
    ui.tabBoard.setAttribute('aria-selected', board ? 'true' : 'false');
    ui.tabReview.classList.toggle('is-active', !board);
    ui.tabBoard.classList.toggle('is-active', board);
    ui.panelReview.hidden = board;
    ui.panelBoard.hidden = !board;
    const hash = board ? '#board' : '#review';
    if (window.location.hash !== hash) {
      try {
        history.replaceState(null, '', window.location.pathname + window.location.search + hash);
      } catch (err) { /* ignore */ }
    }
  }

  // ---- summary ------------------------------------------------------

  function renderSummary(s) {
    const warnings = Array.isArray(s.warnings) ? s.warnings.filter((w) => typeof w === 'string' && w) : [];
    ui.calWarningList.replaceChildren();
    warnings.forEach(function (w) { ui.calWarningList.appendChild(C.el('li', null, w)); });
    ui.calWarning.hidden = warnings.length === 0;

    const o = s.outbox && typeof s.outbox === 'object' ? s.outbox : {};
    const num = (k) => (typeof o[k] === 'number' ? o[k] : 0);
    const parts = ['通知待发送 ' + num('pending'), '发送失败 ' + num('failed')];
    if (num('no_webhook') > 0) parts.push('未配置机器人 ' + num('no_webhook'));
    parts.push('已送达 ' + num('delivered'));
    C.setText(ui.outbox, parts.join(' / '));
    ui.outbox.classList.toggle('is-warn', num('pending') > 0);
    ui.outbox.classList.toggle('is-bad', num('failed') > 0 || num('no_webhook') > 0);

    C.setText(ui.openOrders, '在办工单 ' + (typeof s.open_orders === 'number' ? s.open_orders : '—'));

    const r = s.reindex && typeof s.reindex === 'object' ? s.reindex : null;
    if (r && r.running) {
      C.setText(ui.reindex, '题库索引更新中…');
      ui.reindex.className = 'reindex-status is-running';
      ui.reindex.hidden = false;
    } else if (r && typeof r.last_error === 'string' && r.last_error) {
      C.setText(ui.reindex, '索引更新失败：' + r.last_error);
      ui.reindex.className = 'reindex-status is-bad';
      ui.reindex.hidden = false;
    } else {
      ui.reindex.hidden = true;
    }
  }

  async function loadSummary() {
    st.lastSummaryAt = Date.now();
    const r = await api('GET', '/api/staff/summary');
    if (st.fatal) return;
    if (r.ok && r.data && typeof r.data === 'object') renderSummary(r.data);
    else if (!r.ok) recordError(r.detail);
  }

  /** Room names for labels and the room filters (best effort: from today's ledger). */
  async function loadRoomNames() {
    const r = await api('GET', '/api/staff/ledger');
    if (st.fatal || !r.ok || !r.data || !Array.isArray(r.data.rooms)) return;
    r.data.rooms.forEach(function (row) {
      if (row && typeof row.room === 'string' && row.room) {
        st.roomNames.set(row.room, typeof row.room_name === 'string' && row.room_name ? row.room_name : row.room);
        st.boardRooms.add(row.room);
      }
    });
    fillRoomSelect(ui.reviewRoom, st.reviewRooms);
    fillRoomSelect(ui.fRoom, st.boardRooms);
    // Relabel what is shown.
    document.querySelectorAll('[data-room-label]').forEach(function (n) {
      C.setText(n, shortRoomLabel(n.dataset.roomLabel));
      n.title = roomLabel(n.dataset.roomLabel);
    });
  }

  function fillRoomSelect(select, rooms) {
    const current = select.value;
    const all = new Set(rooms);
    if (current) all.add(current);
    const known = Array.from(st.roomNames.keys()).filter((id) => all.has(id));
    const rest = Array.from(all).filter((id) => !st.roomNames.has(id)).sort();
    const ids = known.concat(rest);
    const opts = [C.el('option', null, '全部')];
    opts[0].value = '';
    ids.forEach(function (id) {
      const o = C.el('option', null, roomLabel(id));
      o.value = id;
      opts.push(o);
    });
    select.replaceChildren(...opts);
    select.value = current;
  }

  function roomSpan(room, className) {
    const s = C.el('span', className || 'room', shortRoomLabel(room));
    if (typeof room === 'string') {
      s.dataset.roomLabel = room;
      s.title = roomLabel(room);
    }
    return s;
  }

  // ---- review -------------------------------------------------------

  function updateReviewCount() {
    const keys = [];
    for (const li of ui.reviewList.children) {
      if (li.dataset.key != null) keys.push(li.dataset.key);
    }
    govlive.reviewKeys = keys;
    C.setText(ui.reviewCount, keys.length);
    ui.reviewCount.classList.toggle('has-items', keys.length > 0);
    ui.reviewEmpty.hidden = keys.length > 0 || st.fatal || !st.reviewLoaded;
  }

  function reviewFormOpen() {
    return ui.reviewList.querySelector('form.answer-form') !== null;
  }

  function domainFromEntry(entryId) {
    if (typeof entryId !== 'string') return null;
    const slug = entryId.split('-')[0];
    const d = DOMAIN_BY_SLUG.get(slug);
    return d ? d[0] : null;
  }

  function buildComment(c) {
    const li = C.el('li', 'comment-item');
    const head = C.el('div', 'comment-head');
    head.appendChild(platformBadge(c.platform));
    head.appendChild(roomSpan(c.room, 'room'));
    const nick = typeof c.nickname === 'string' && c.nickname.trim() ? c.nickname : '匿名网友';
    head.appendChild(C.el('span', 'nickname', nick));
    head.appendChild(timeEl(c.received_at));
    const hasContact = Array.isArray(c.contact) && c.contact.length > 0;
    if (hasContact || (typeof c.display === 'string' && c.display !== c.text)) head.appendChild(piiTag());
    li.appendChild(head);
    const text = C.el('p', 'comment-text pii', c.text == null ? '' : c.text);
    li.appendChild(text);
    if (typeof c.display === 'string' && c.display && c.display !== c.text) {
      const masked = C.el('p', 'comment-display');
      masked.appendChild(C.el('span', 'label', '脱敏后：'));
      masked.appendChild(document.createTextNode(c.display));
      li.appendChild(masked);
    }
    if (Array.isArray(c.contact) && c.contact.length > 0) {
      const line = C.el('p', 'comment-contact pii');
      line.appendChild(C.el('span', 'label', '联系方式：'));
      line.appendChild(contactList(c.contact));
      li.appendChild(line);
    }
    return li;
  }

  function buildCommentsBlock(g) {
    const wrap = C.el('div', 'comments');
    const comments = Array.isArray(g.comments) ? g.comments : [];
    const note = C.el('p', 'comments-note');
    note.appendChild(piiTag());
    note.appendChild(document.createTextNode(
      ' 以下为留言原文（未脱敏），仅供工作人员核实与回访' +
      (typeof g.count === 'number' && g.count > comments.length ? '；仅显示 ' + comments.length + ' / ' + g.count + ' 条' : '')));
    wrap.appendChild(note);
    const ul = C.el('ul', 'comment-list');
    comments.forEach(function (c) {
      if (c && typeof c === 'object') ul.appendChild(buildComment(c));
    });
    wrap.appendChild(ul);
    return wrap;
  }

  function buildGroup(g) {
    const li = C.el('li', 'group');
    li.dataset.key = g.key;
    li.classList.add(g.decision === 'suggest' ? 'is-suggest' : 'is-unanswered');

    const count = C.el('div', 'count', typeof g.count === 'number' ? g.count : '?');
    count.title = '提问次数';
    li.appendChild(count);

    const main = C.el('div', 'group-main');
    const sample = C.el('p', 'sample', g.sample || '');
    main.appendChild(sample);
    if (g.question) {
      const q = C.el('p', 'bank-question');
      q.appendChild(C.el('span', 'label', '题库相近问题：'));
      q.appendChild(C.el('span', 'bank-question-text', g.question));
      if (g.entry_id) q.appendChild(C.el('span', 'entry-id', g.entry_id));
      main.appendChild(q);
    }
    const meta = C.el('div', 'group-meta');
    meta.appendChild(C.el('span', 'decision decision-' + (g.decision === 'suggest' ? 'suggest' : 'unanswered'),
      g.decision === 'suggest' ? '有建议答案未上屏' : '题库无答案'));
    const rooms = C.el('span', 'rooms');
    (Array.isArray(g.rooms) ? g.rooms : []).forEach(function (r) { rooms.appendChild(roomSpan(r, 'room')); });
    meta.appendChild(rooms);
    const range = C.el('span', 'time-range');
    range.appendChild(timeEl(g.first_at));
    if (g.last_at && g.last_at !== g.first_at) {
      range.appendChild(document.createTextNode(' 至 '));
      range.appendChild(timeEl(g.last_at));
    }
    meta.appendChild(range);
    const expand = button('expand', '', '展开 / 收起留言原文');
    expand.setAttribute('aria-expanded', 'false');
    meta.appendChild(expand);
    main.appendChild(meta);
    li.appendChild(main);

    const actions = C.el('div', 'actions');
    const answer = button('answer primary', '答复并入库', '写一条标准答复，加入题库，以后自动答复');
    const workorder = button('workorder', '转工单', '每条留言登记一张工单，派给部门办理');
    const dismiss = button('dismiss', '忽略/垃圾', '与政务无关或无需处理');
    actions.append(answer, workorder, dismiss);
    li.appendChild(actions);

    const comments = buildCommentsBlock(g);
    li.appendChild(comments);
    const n = Array.isArray(g.comments) ? g.comments.length : 0;
    function setExpanded(on) {
      comments.hidden = !on;
      expand.setAttribute('aria-expanded', on ? 'true' : 'false');
      C.setText(expand, (on ? '收起留言 ▴' : '查看 ' + (typeof g.count === 'number' ? g.count : n) + ' 条留言 ▾'));
      if (on) st.expanded.add(g.key); else st.expanded.delete(g.key);
    }
    setExpanded(st.expanded.has(g.key));
    expand.addEventListener('click', function () { setExpanded(comments.hidden); });

    const rowNotice = C.el('p', 'row-notice');
    rowNotice.setAttribute('role', 'status');
    rowNotice.hidden = true;
    li.appendChild(rowNotice);

    answer.addEventListener('click', function () { toggleAnswerForm(li, g); });
    workorder.addEventListener('click', function () { groupAction(li, g, 'workorder'); });
    dismiss.addEventListener('click', function () { groupAction(li, g, 'dismiss'); });
    return li;
  }

  function setRowNotice(li, text) {
    const n = li.querySelector(':scope > .row-notice');
    if (!n) return;
    C.setText(n, text);
    n.hidden = !text;
  }

  function setBusy(node, busy) {
    node.classList.toggle('is-busy', busy);
    node.setAttribute('aria-busy', busy ? 'true' : 'false');
  }

  function field(labelText, control, extra) {
    const label = C.el('label', 'field');
    label.appendChild(C.el('span', 'field-label', labelText));
    label.appendChild(control);
    if (extra) label.appendChild(extra);
    return label;
  }

  function distinctDisplays(g) {
    const seen = new Set();
    const out = [];
    (Array.isArray(g.comments) ? g.comments : []).forEach(function (c) {
      const d = c && typeof c.display === 'string' ? c.display.trim() : '';
      if (d && !seen.has(d) && out.length < SIMILAR_MAX) {
        seen.add(d);
        out.push(d);
      }
    });
    return out;
  }

  function toggleAnswerForm(li, g) {
    const existing = li.querySelector('form.answer-form');
    if (existing) {
      existing.remove();
      li.classList.remove('has-form');
      return;
    }
    li.classList.add('has-form');
    const form = C.el('form', 'answer-form');
    form.noValidate = true; // checked below and by the server, messages in Chinese

    const question = document.createElement('input');
    question.type = 'text';
    question.name = 'question';
    question.maxLength = 60;
    question.value = g.sample || g.question || '';

    const answer = document.createElement('textarea');
    answer.name = 'answer';
    answer.rows = 3;
    answer.maxLength = ANSWER_MAX;
    answer.placeholder = '口语化的标准答复，主播可直接念出；不要放链接';
    const counter = C.el('span', 'char-count', '0/' + ANSWER_MAX);
    counter.setAttribute('aria-live', 'polite');
    function updateCounter() {
      const n = C.charCount(answer.value);
      C.setText(counter, n + '/' + ANSWER_MAX);
      counter.classList.toggle('is-over', n > ANSWER_MAX);
      counter.classList.toggle('is-near', n > ANSWER_MAX - 20 && n <= ANSWER_MAX);
    }
    answer.addEventListener('input', updateCounter);

    const domain = document.createElement('select');
    domain.name = 'domain';
    const blank = C.el('option', null, '请选择领域');
    blank.value = '';
    domain.appendChild(blank);
    DOMAINS.forEach(function (d) {
      const o = C.el('option', null, d[0]);
      o.value = d[0];
      domain.appendChild(o);
    });
    const guessed = domainFromEntry(g.entry_id);
    domain.value = guessed || '';

    const department = document.createElement('input');
    department.type = 'text';
    department.name = 'department';
    department.maxLength = 40;
    department.setAttribute('list', 'department-options');
    department.placeholder = '答复口径的责任部门';
    department.value = guessed ? DOMAIN_BY_NAME.get(guessed)[2] : '';
    let departmentTouched = false;
    department.addEventListener('input', function () { departmentTouched = true; });
    domain.addEventListener('change', function () {
      const d = DOMAIN_BY_NAME.get(domain.value);
      if (d && (!departmentTouched || !department.value.trim())) department.value = d[2];
    });

    const similar = document.createElement('textarea');
    similar.name = 'similar_questions';
    similar.rows = 3;
    similar.placeholder = '每行一个相似问法（可留空）';
    similar.value = distinctDisplays(g).join('\n');

    const error = C.el('p', 'form-error');
    error.setAttribute('role', 'alert');
    error.hidden = true;

    const submit = C.el('button', 'btn submit primary', '提交入库');
    submit.type = 'submit';
    const cancel = button('cancel', '取消');

    const grid = C.el('div', 'form-grid');
    const qField = field('标准问题', question);
    qField.classList.add('span-2');
    grid.appendChild(qField);
    const aField = field('答复（不超过 ' + ANSWER_MAX + ' 字）', answer, counter);
    aField.classList.add('span-2');
    grid.appendChild(aField);
    grid.appendChild(field('领域', domain));
    grid.appendChild(field('责任部门', department));
    const sField = field('相似问法（每行一个）', similar);
    sField.classList.add('span-2');
    grid.appendChild(sField);
    form.appendChild(grid);
    form.appendChild(error);
    const buttons = C.el('div', 'form-buttons');
    buttons.append(submit, cancel);
    form.appendChild(buttons);

    cancel.addEventListener('click', function () {
      form.remove();
      li.classList.remove('has-form');
    });
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      submitAnswer(li, g, form, error);
    });

    // Before the comment list, right under the row.
    li.insertBefore(form, li.querySelector(':scope > .comments'));
    updateCounter();
    answer.focus();
  }

  function setFormError(errorNode, text) {
    C.setText(errorNode, text);
    errorNode.hidden = !text;
  }

  async function submitAnswer(li, g, form, errorNode) {
    if (form.classList.contains('is-busy')) return;
    const values = {
      question: form.elements.question.value.trim(),
      answer: form.elements.answer.value.trim(),
      domain: form.elements.domain.value,
      department: form.elements.department.value.trim(),
    };
    const seen = new Set();
    values.similar_questions = form.elements.similar_questions.value.split(/\r?\n/)
      .map((s) => s.trim())
      .filter((s) => s && s !== values.question && !seen.has(s) && seen.add(s));
    let problem = '';
    if (!values.question) problem = '请填写标准问题';
    else if (!values.answer) problem = '请填写答复';
    else if (C.charCount(values.answer) > ANSWER_MAX) problem = '答复不能超过 ' + ANSWER_MAX + ' 字';
    else if (!values.domain) problem = '请选择领域';
    else if (!values.department) problem = '请填写责任部门';
    if (problem) {
      setFormError(errorNode, problem);
      return;
    }
    setFormError(errorNode, '');
    setBusy(form, true);
    const r = await api('POST', '/api/staff/review/' + encodeURIComponent(g.key) + '/answer', values);
    setBusy(form, false);
    if (st.fatal) return;
    if (r.ok) {
      govlive.lastError = null;
      removeGroup(g.key);
      const id = r.data && typeof r.data.entry_id === 'string' ? r.data.entry_id : '';
      notify('已入库，索引更新中' + (id ? '（' + id + '）' : ''), 'ok');
      loadSummary();
      return;
    }
    recordError(r.detail);
    if (r.status === 404) {
      removeGroup(g.key);
      notify(r.detail, 'info');
      loadReview();
      return;
    }
    setFormError(errorNode, r.detail);
    if (r.status !== 422) notify(r.detail, 'error');
  }

  const GROUP_DONE = {
    workorder: function (d) {
      const ids = d && Array.isArray(d.work_order_ids) ? d.work_order_ids : [];
      return '已转工单 ' + ids.length + ' 件' + (ids.length ? '（' + ids.slice(0, 6).map((i) => '#' + i).join('、') + (ids.length > 6 ? '…' : '') + '）' : '');
    },
    dismiss: function (d) {
      const n = d && typeof d.dismissed === 'number' ? d.dismissed : 0;
      return '已忽略 ' + n + ' 条留言';
    },
  };

  async function groupAction(li, g, action) {
    if (li.classList.contains('is-busy')) return;
    setRowNotice(li, '');
    setBusy(li, true);
    const r = await api('POST', '/api/staff/review/' + encodeURIComponent(g.key) + '/' + action, {});
    setBusy(li, false);
    if (st.fatal) return;
    if (r.ok) {
      govlive.lastError = null;
      removeGroup(g.key);
      notify(GROUP_DONE[action](r.data), 'ok');
      if (action === 'workorder') loadBoard();
      loadSummary();
      return;
    }
    recordError(r.detail);
    if (r.status === 404 || r.status === 409) {
      removeGroup(g.key);
      notify(r.detail, 'info');
      loadReview();
      return;
    }
    setRowNotice(li, r.detail);
    notify(r.detail, 'error');
  }

  function removeGroup(key) {
    const entry = st.groups.get(key);
    if (!entry) return;
    st.groups.delete(key);
    st.expanded.delete(key);
    const li = entry.li;
    let focusNext = null;
    if (li.contains(document.activeElement)) {
      const sib = li.nextElementSibling || li.previousElementSibling;
      if (sib) focusNext = sib.querySelector('button.answer');
    }
    li.remove();
    if (focusNext) focusNext.focus();
    updateReviewCount();
  }

  function renderGroups(groups) {
    st.groups.clear();
    const items = [];
    groups.forEach(function (g) {
      if (!g || typeof g !== 'object' || typeof g.key !== 'string' || st.groups.has(g.key)) return;
      (Array.isArray(g.rooms) ? g.rooms : []).forEach((r) => { if (typeof r === 'string') st.reviewRooms.add(r); });
      const li = buildGroup(g);
      st.groups.set(g.key, { group: g, li: li });
      items.push(li);
    });
    ui.reviewList.replaceChildren(...items);
    fillRoomSelect(ui.reviewRoom, st.reviewRooms);
    updateReviewCount();
  }

  async function loadReview() {
    const seq = ++st.reviewSeq;
    st.reviewBusy = true;
    st.lastReviewAt = Date.now();
    ui.reviewRefresh.disabled = true;
    const r = await api('GET', query('/api/staff/review', { room: ui.reviewRoom.value }));
    if (seq !== st.reviewSeq) return;
    st.reviewBusy = false;
    ui.reviewRefresh.disabled = false;
    if (st.fatal) return;
    if (r.ok && r.data && Array.isArray(r.data.groups)) {
      st.reviewLoaded = true;
      if (!st.boardLoaded || st.ready) showPageMessage('');
      renderGroups(r.data.groups);
      stamp(ui.reviewUpdated);
      maybeReady();
      return;
    }
    const text = r.ok ? '待处理留言：服务器返回的数据无法解析' : '加载待处理留言失败：' + r.detail;
    notifyError(text);
    if (!st.reviewLoaded) showPageMessage(text);
  }

  // ---- board --------------------------------------------------------

  function boardFormOpen() {
    return ui.ordersBody.querySelector('form') !== null;
  }

  function updateBoardCount() {
    const ids = [];
    for (const tr of ui.ordersBody.querySelectorAll('tr.order')) {
      const e = st.orders.get(tr.dataset.id);
      if (e) ids.push(e.order.id);
    }
    govlive.orderIds = ids;
    C.setText(ui.boardCount, ids.length);
    ui.boardCount.classList.toggle('has-items', ids.length > 0);
    ui.boardEmpty.hidden = ids.length > 0 || st.fatal || !st.boardLoaded;
  }

  function refreshDepartmentOptions() {
    const opts = Array.from(st.departments).sort().map(function (d) {
      const o = document.createElement('option');
      o.value = d;
      return o;
    });
    ui.deptOptions.replaceChildren(...opts);
  }

  function noteDepartments(o) {
    let added = false;
    [o.department, o.suggested_department].forEach(function (d) {
      if (typeof d === 'string' && d.trim() && !st.departments.has(d)) {
        st.departments.add(d);
        added = true;
      }
    });
    return added;
  }

  function lightCell(o) {
    const td = C.el('td', 'cell-light');
    const colour = typeof o.colour === 'string' && COLOUR_TEXT[o.colour] ? o.colour : null;
    const light = C.el('span', 'light ' + (colour ? 'light-' + colour : 'light-none'));
    light.appendChild(C.el('span', 'light-dot'));
    light.appendChild(C.el('span', 'light-text', colour ? COLOUR_TEXT[colour] : '—'));
    if (colour) light.title = { green: '时限充裕', yellow: '临近时限', red: '即将超期' }[colour];
    td.appendChild(light);
    if (o.overdue) td.appendChild(C.el('span', 'badge badge-overdue', '超期'));
    if (o.provisional) {
      const b = C.el('span', 'badge badge-provisional', '待定');
      b.title = typeof o.provisional_reason === 'string' && o.provisional_reason
        ? o.provisional_reason : '节假日安排未发布，时限为暂定';
      td.appendChild(b);
    }
    if (typeof o.working_days_left === 'number') {
      td.appendChild(C.el('span', 'days-left', o.working_days_left >= 0
        ? '剩 ' + o.working_days_left + ' 个工作日' : '超 ' + (-o.working_days_left) + ' 个工作日'));
    }
    return td;
  }

  function buildOrderRow(o) {
    const tr = C.el('tr', 'order');
    const id = String(o.id);
    tr.dataset.id = id;
    tr.dataset.status = typeof o.status === 'string' ? o.status : '';
    if (o.colour) tr.classList.add('colour-' + o.colour);
    if (o.overdue) tr.classList.add('is-overdue');

    const tdId = C.el('td', 'cell-id');
    tdId.appendChild(C.el('span', 'order-id', '#' + id));
    const src = typeof o.source === 'string' ? o.source : '';
    if (src) tdId.appendChild(C.el('span', 'source', Object.prototype.hasOwnProperty.call(SOURCE_TEXT, src) ? SOURCE_TEXT[src] : src));
    tdId.appendChild(timeEl(o.created_at, 'time created'));
    tr.appendChild(tdId);

    tr.appendChild(lightCell(o));

    const tdStatus = C.el('td', 'cell-status');
    tdStatus.appendChild(C.el('span', 'status status-' + statusSlug(o.status), o.status || ''));
    if (typeof o.reopen_count === 'number' && o.reopen_count > 0) {
      tdStatus.appendChild(C.el('span', 'reopen', '重办 ' + o.reopen_count + ' 次'));
    }
    if (o.satisfied === true) tdStatus.appendChild(C.el('span', 'satisfied yes', '满意'));
    if (o.satisfied === false) tdStatus.appendChild(C.el('span', 'satisfied no', '不满意'));
    tr.appendChild(tdStatus);

    const tdRoom = C.el('td', 'cell-room');
    tdRoom.appendChild(roomSpan(o.room, 'room'));
    tdRoom.appendChild(platformBadge(o.platform));
    tr.appendChild(tdRoom);

    const tdDept = C.el('td', 'cell-dept');
    if (typeof o.department === 'string' && o.department) {
      tdDept.appendChild(C.el('span', 'department', o.department));
    } else if (typeof o.suggested_department === 'string' && o.suggested_department) {
      const s = C.el('span', 'suggested');
      s.appendChild(C.el('span', 'suggested-tag', '建议'));
      s.appendChild(document.createTextNode(o.suggested_department));
      tdDept.appendChild(s);
    } else {
      tdDept.appendChild(C.el('span', 'muted', '未定'));
    }
    const cx = typeof o.complexity === 'string' ? o.complexity : '';
    tdDept.appendChild(C.el('span', 'complexity complexity-' + (cx === 'complex' ? 'complex' : 'ordinary'),
      COMPLEXITY_TEXT[cx] || cx || '一般'));
    tr.appendChild(tdDept);

    const tdText = C.el('td', 'cell-text');
    tdText.appendChild(C.el('p', 'citizen-text pii', o.citizen_text || o.display || ''));
    if (Array.isArray(o.contact) && o.contact.length) tdText.appendChild(contactList(o.contact));
    const intent = typeof o.intent === 'string' && o.intent
      ? (Object.prototype.hasOwnProperty.call(INTENT_TEXT, o.intent) ? INTENT_TEXT[o.intent] : o.intent) : '';
    const meta = [o.domain, intent].filter((x) => typeof x === 'string' && x);
    if (meta.length) tdText.appendChild(C.el('p', 'order-meta', meta.join(' · ')));
    if (typeof o.resolution === 'string' && o.resolution) {
      const res = C.el('p', 'resolution');
      res.appendChild(C.el('span', 'label', '办理结果：'));
      res.appendChild(document.createTextNode(o.resolution));
      tdText.appendChild(res);
    }
    tr.appendChild(tdText);

    const tdDue = C.el('td', 'cell-due');
    const d1 = C.el('div', 'due');
    d1.appendChild(C.el('span', 'due-label', '派单'));
    d1.appendChild(timeEl(o.dispatch_due, 'time'));
    const d2 = C.el('div', 'due');
    d2.appendChild(C.el('span', 'due-label', '办结'));
    d2.appendChild(timeEl(o.resolve_due, 'time'));
    tdDue.append(d1, d2);
    tr.appendChild(tdDue);

    const tdAct = C.el('td', 'cell-actions');
    const actions = C.el('div', 'row-actions');
    const status = o.status;
    if (status === '待派单' || status === '重办') {
      const b = button('dispatch primary', '派单');
      b.addEventListener('click', function () { toggleOrderForm(tr, 'dispatch'); });
      actions.appendChild(b);
    }
    if (status === '已派单') {
      const b = button('accept primary', '签收');
      b.addEventListener('click', function () { orderAction(tr, 'accept', {}); });
      actions.appendChild(b);
    }
    if (status === '办理中') {
      const b = button('close primary', '办结');
      b.addEventListener('click', function () { toggleOrderForm(tr, 'close'); });
      actions.appendChild(b);
    }
    if (status === '已派单' || status === '办理中') {
      const b = button('return', '退回错派');
      b.addEventListener('click', function () { toggleOrderForm(tr, 'return'); });
      actions.appendChild(b);
    }
    if (status === '已办结') {
      const b = button('revisit primary', '回访');
      b.addEventListener('click', function () { toggleOrderForm(tr, 'revisit'); });
      actions.appendChild(b);
    }
    const h = button('history', '记录');
    h.setAttribute('aria-expanded', 'false');
    h.addEventListener('click', function () { toggleHistory(tr); });
    actions.appendChild(h);
    tdAct.appendChild(actions);
    const rowNotice = C.el('p', 'row-notice');
    rowNotice.setAttribute('role', 'status');
    rowNotice.hidden = true;
    tdAct.appendChild(rowNotice);
    tr.appendChild(tdAct);
    return tr;
  }

  function statusSlug(status) {
    return { 待派单: 'new', 已派单: 'dispatched', 办理中: 'working', 已办结: 'closed', 已回访: 'revisited', 重办: 'reopened' }[status] || 'other';
  }

  function orderFromRow(tr) {
    const e = st.orders.get(tr.dataset.id);
    return e ? e.order : null;
  }

  function closeOrderForms(tr) {
    tr.querySelectorAll('form.order-form').forEach((f) => f.remove());
    tr.classList.remove('has-form');
  }

  function toggleOrderForm(tr, kind) {
    const existing = tr.querySelector('form.' + kind + '-form');
    closeOrderForms(tr);
    if (existing) return;
    const o = orderFromRow(tr);
    if (!o) return;
    const form = C.el('form', 'order-form ' + kind + '-form');
    form.noValidate = true;
    const error = C.el('p', 'form-error');
    error.setAttribute('role', 'alert');
    error.hidden = true;
    let first = null;
    let collect;

    if (kind === 'dispatch') {
      const dept = document.createElement('input');
      dept.type = 'text';
      dept.name = 'department';
      dept.maxLength = 40;
      dept.setAttribute('list', 'department-options');
      dept.value = o.department || o.suggested_department || '';
      const cx = document.createElement('select');
      cx.name = 'complexity';
      [['ordinary', '一般（2 个工作日）'], ['complex', '复杂（5 个工作日）']].forEach(function (p) {
        const opt = C.el('option', null, p[1]);
        opt.value = p[0];
        cx.appendChild(opt);
      });
      cx.value = o.complexity === 'complex' ? 'complex' : 'ordinary';
      form.appendChild(field('承办部门', dept));
      form.appendChild(field('复杂度', cx));
      first = dept;
      collect = () => ({ department: dept.value.trim(), complexity: cx.value });
    } else if (kind === 'return') {
      const reason = document.createElement('input');
      reason.type = 'text';
      reason.name = 'reason';
      reason.maxLength = 500;
      reason.placeholder = '例如：不属于本部门职责';
      form.appendChild(field('退回原因', reason));
      first = reason;
      collect = () => ({ reason: reason.value.trim() });
    } else if (kind === 'close') {
      const resolution = document.createElement('textarea');
      resolution.name = 'resolution';
      resolution.rows = 3;
      resolution.maxLength = 2000;
      resolution.placeholder = '办理结果';
      form.appendChild(field('办理结果', resolution));
      first = resolution;
      collect = () => ({ resolution: resolution.value.trim() });
    } else if (kind === 'revisit') {
      const choice = C.el('fieldset', 'choice-group');
      choice.appendChild(C.el('legend', 'field-label', '回访结果'));
      const name = 'satisfied-' + o.id;
      [['true', '满意'], ['false', '不满意（重办）']].forEach(function (p, i) {
        const label = C.el('label', 'radio');
        const radio = document.createElement('input');
        radio.type = 'radio';
        radio.name = name;
        radio.value = p[0];
        radio.checked = i === 0;
        label.appendChild(radio);
        label.appendChild(document.createTextNode(p[1]));
        choice.appendChild(label);
        if (i === 0) first = radio;
      });
      const note = document.createElement('input');
      note.type = 'text';
      note.name = 'note';
      note.maxLength = 500;
      note.placeholder = '回访情况（可留空）';
      form.appendChild(choice);
      form.appendChild(field('备注', note));
      collect = function () {
        const checked = form.querySelector('input[name="' + name + '"]:checked');
        return { satisfied: checked ? checked.value === 'true' : true, note: note.value.trim() };
      };
    } else {
      return;
    }

    form.appendChild(error);
    const buttons = C.el('div', 'form-buttons');
    const submit = C.el('button', 'btn submit primary', { dispatch: '确认派单', return: '确认退回', close: '确认办结', revisit: '提交回访' }[kind]);
    submit.type = 'submit';
    const cancel = button('cancel', '取消');
    buttons.append(submit, cancel);
    form.appendChild(buttons);
    cancel.addEventListener('click', function () { closeOrderForms(tr); });
    const REQUIRED = { dispatch: ['department', '请填写承办部门'], return: ['reason', '请填写退回原因'], close: ['resolution', '请填写办理结果'] };
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      const body = collect();
      const need = REQUIRED[kind];
      if (need && !body[need[0]]) {
        setFormError(error, need[1]);
        return;
      }
      orderAction(tr, kind, body, form, error);
    });
    tr.classList.add('has-form');
    tr.querySelector('td.cell-actions').appendChild(form);
    if (first) first.focus();
  }

  const ORDER_DONE = { dispatch: '已派单', accept: '已签收', return: '已退回，待重新派单', close: '已办结', revisit: '已记录回访' };

  async function orderAction(tr, action, body, form, errorNode) {
    if (tr.classList.contains('is-busy')) return;
    const o = orderFromRow(tr);
    if (!o) return;
    const notice = tr.querySelector('.row-notice');
    if (notice) { notice.hidden = true; C.setText(notice, ''); }
    if (errorNode) setFormError(errorNode, '');
    setBusy(tr, true);
    const r = await api('POST', '/api/staff/work_orders/' + encodeURIComponent(String(o.id)) + '/' + action, body);
    setBusy(tr, false);
    if (st.fatal) return;
    if (r.ok && r.data && typeof r.data === 'object' && r.data.id != null) {
      govlive.lastError = null;
      const updated = r.data;
      let text = ORDER_DONE[action] || '已完成';
      if (action === 'revisit' && updated.status === '重办') text = '群众不满意，工单已转重办';
      replaceOrder(tr, updated);
      notify('工单 #' + updated.id + ' ' + text, 'ok');
      loadSummary();
      return;
    }
    if (r.ok) {
      // An answer without the order: show the list as the server has it.
      notify('工单 #' + o.id + ' ' + (ORDER_DONE[action] || '已完成'), 'ok');
      loadBoard();
      return;
    }
    recordError(r.detail);
    if (r.status === 409 || r.status === 404) {
      notify((r.status === 409 ? '操作未执行：' : '') + r.detail, 'info');
      loadBoard();
      return;
    }
    notify(r.detail, 'error');
    if (errorNode) setFormError(errorNode, r.detail);
    else if (notice) { C.setText(notice, r.detail); notice.hidden = false; }
  }

  function replaceOrder(oldTr, order) {
    const id = String(order.id);
    const historyOpen = historyRowOf(oldTr) !== null;
    removeHistoryRow(oldTr);
    if (noteDepartments(order)) refreshDepartmentOptions();
    if (typeof order.room === 'string') st.boardRooms.add(order.room);
    const tr = buildOrderRow(order);
    st.orders.set(id, { order: order, tr: tr });
    const hadFocus = oldTr.contains(document.activeElement);
    oldTr.replaceWith(tr);
    if (hadFocus) {
      const b = tr.querySelector('.row-actions button');
      if (b) b.focus();
    }
    if (historyOpen) toggleHistory(tr);
    updateBoardCount();
  }

  function historyRowOf(tr) {
    const next = tr.nextElementSibling;
    return next && next.classList.contains('history-row') && next.dataset.for === tr.dataset.id ? next : null;
  }

  function removeHistoryRow(tr) {
    const h = historyRowOf(tr);
    if (h) h.remove();
    const b = tr.querySelector('button.history');
    if (b) b.setAttribute('aria-expanded', 'false');
  }

  function changeValue(key, v) {
    if (v == null) return '—';
    if (key === 'complexity' && Object.prototype.hasOwnProperty.call(COMPLEXITY_TEXT, v)) return COMPLEXITY_TEXT[v];
    if (typeof v === 'boolean') return v ? '是' : '否';
    if (typeof v === 'string') {
      if (/^\d{4}-\d{2}-\d{2}T/.test(v)) return formatDateTime(v) || v;
      return v;
    }
    try {
      return JSON.stringify(v);
    } catch (err) {
      return String(v);
    }
  }

  async function toggleHistory(tr) {
    if (historyRowOf(tr)) {
      removeHistoryRow(tr);
      return;
    }
    const o = orderFromRow(tr);
    if (!o) return;
    const row = C.el('tr', 'history-row');
    row.dataset.for = tr.dataset.id;
    const td = C.el('td', 'history-cell');
    td.colSpan = 8;
    const box = C.el('div', 'history-box');
    box.appendChild(C.el('p', 'history-loading', '正在加载记录…'));
    td.appendChild(box);
    row.appendChild(td);
    tr.after(row);
    const b = tr.querySelector('button.history');
    if (b) b.setAttribute('aria-expanded', 'true');

    const r = await api('GET', '/api/staff/work_orders/' + encodeURIComponent(String(o.id)) + '/history');
    if (st.fatal || !row.isConnected) return;
    box.replaceChildren();
    if (!r.ok) {
      recordError(r.detail);
      box.appendChild(C.el('p', 'form-error', '加载记录失败：' + r.detail));
      notify(r.detail, 'error');
      return;
    }
    const events = Array.isArray(r.data) ? r.data : [];
    box.appendChild(C.el('p', 'history-title', '工单 #' + o.id + ' 办理记录（' + events.length + ' 条）'));
    const ol = C.el('ol', 'history-list');
    events.forEach(function (ev) {
      if (!ev || typeof ev !== 'object') return;
      const li = C.el('li', 'history-item');
      li.appendChild(timeEl(ev.at, 'time'));
      const action = typeof ev.action === 'string' ? ev.action : '';
      li.appendChild(C.el('span', 'history-action',
        Object.prototype.hasOwnProperty.call(ACTION_TEXT, action) ? ACTION_TEXT[action] : action));
      if (ev.actor) li.appendChild(C.el('span', 'history-actor', String(ev.actor)));
      if (ev.from_status || ev.to_status) {
        li.appendChild(C.el('span', 'history-move', (ev.from_status || '—') + ' → ' + (ev.to_status || '—')));
      }
      const changes = ev.changes && typeof ev.changes === 'object' ? ev.changes : {};
      const parts = Object.keys(changes)
        .filter((k) => k !== 'status' && k !== 'last_colour' && changes[k] !== null && changes[k] !== '')
        .map((k) => (Object.prototype.hasOwnProperty.call(CHANGE_TEXT, k) ? CHANGE_TEXT[k] : k) + '：' + changeValue(k, changes[k]));
      if (parts.length) li.appendChild(C.el('span', 'history-changes', parts.join('；')));
      ol.appendChild(li);
    });
    box.appendChild(ol);
  }

  function renderOrders(orders) {
    st.orders.clear();
    let newDept = false;
    const rowsOut = [];
    orders.forEach(function (o) {
      if (!o || typeof o !== 'object' || o.id == null || st.orders.has(String(o.id))) return;
      if (noteDepartments(o)) newDept = true;
      if (typeof o.room === 'string') st.boardRooms.add(o.room);
      const tr = buildOrderRow(o);
      st.orders.set(String(o.id), { order: o, tr: tr });
      rowsOut.push(tr);
    });
    ui.ordersBody.replaceChildren(...rowsOut);
    if (newDept) refreshDepartmentOptions();
    fillRoomSelect(ui.fRoom, st.boardRooms);
    updateBoardCount();
  }

  async function loadBoard() {
    const seq = ++st.boardSeq;
    st.boardBusy = true;
    st.lastBoardAt = Date.now();
    ui.boardRefresh.disabled = true;
    const r = await api('GET', query('/api/staff/work_orders', {
      room: ui.fRoom.value, department: ui.fDepartment.value, status: ui.fStatus.value, colour: ui.fColour.value,
    }));
    if (seq !== st.boardSeq) return;
    st.boardBusy = false;
    ui.boardRefresh.disabled = false;
    if (st.fatal) return;
    if (r.ok && Array.isArray(r.data)) {
      st.boardLoaded = true;
      if (st.reviewLoaded) showPageMessage('');
      renderOrders(r.data);
      stamp(ui.boardUpdated);
      maybeReady();
      return;
    }
    const text = r.ok ? '工单看板：服务器返回的数据无法解析' : '加载工单失败：' + r.detail;
    notifyError(text);
    if (!st.boardLoaded) showPageMessage(text);
  }

  // ---- timers -------------------------------------------------------

  function tick() {
    if (st.fatal) return;
    const now = Date.now();
    const due = (last) => now - last >= (st.ready ? REFRESH_MS : TICK_MS);
    if (!st.reviewBusy && due(st.lastReviewAt) && !reviewFormOpen() &&
        !ui.reviewList.querySelector('.is-busy')) {
      loadReview();
    }
    if (!st.boardBusy && due(st.lastBoardAt) && !boardFormOpen() &&
        !ui.ordersBody.querySelector('tr.history-row, .is-busy')) {
      loadBoard();
    }
    if (now - st.lastSummaryAt >= REFRESH_MS) loadSummary();
  }

  // ---- start --------------------------------------------------------

  function main() {
    govlive.reviewKeys = [];
    govlive.orderIds = [];
    if (!token) {
      fail('缺少 token 参数：请使用 ?token=令牌 打开本页面');
      return;
    }
    ui.ledgerLink.href = '/staff/ledger'; // the token travels in sessionStorage, never in a URL
    refreshDepartmentOptions();

    ui.tabReview.addEventListener('click', function () { showTab('review'); });
    ui.tabBoard.addEventListener('click', function () { showTab('board'); });
    showTab(window.location.hash === '#board' ? 'board' : 'review');

    ui.reviewRefresh.addEventListener('click', function () { loadReview(); loadSummary(); });
    ui.reviewRoom.addEventListener('change', function () { loadReview(); });
    ui.boardRefresh.addEventListener('click', function () { loadBoard(); loadSummary(); });
    [ui.fRoom, ui.fStatus, ui.fColour].forEach(function (s) {
      s.addEventListener('change', function () { loadBoard(); });
    });
    let deptTimer = null;
    let lastDept = ui.fDepartment.value;
    function deptChanged() {
      if (deptTimer !== null) { clearTimeout(deptTimer); deptTimer = null; }
      if (ui.fDepartment.value === lastDept) return;
      lastDept = ui.fDepartment.value;
      loadBoard();
    }
    ui.fDepartment.addEventListener('change', deptChanged);
    ui.fDepartment.addEventListener('input', function () {
      if (deptTimer !== null) clearTimeout(deptTimer);
      deptTimer = setTimeout(deptChanged, 400);
    });
    ui.fDepartment.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter') deptChanged();
    });

    updateReviewCount();
    updateBoardCount();
    loadSummary();
    loadReview();
    loadBoard();
    loadRoomNames();
    setInterval(tick, TICK_MS);
  }

  main();
})();
