/* control.html: the 场控 operator's list of pending suggestions.
 * Loads /api/control/pending, then follows the room websocket from that seq.
 * All server strings go in through textContent / createElement. */
(function () {
  'use strict';

  const C = window.GovliveCommon;
  const NOTICE_MS = 4000;
  const LOAD_RETRY_START_MS = 1000;
  const LOAD_RETRY_MAX_MS = 10000;
  const REMOVING = new Set(['approved', 'skipped', 'filed']);

  // Read by tests.
  const govlive = { lastSeq: null, connected: false, pending: [] };
  window.govlive = govlive;

  const $ = (id) => document.getElementById(id);
  const ui = {
    roomName: $('room-name'),
    count: $('pending-count'),
    connState: $('conn-state'),
    pageMessage: $('page-message'),
    empty: $('empty'),
    list: $('pending-list'),
    notices: $('notices'),
  };

  const params = C.readParams({ keep: 'control' });
  const rows = new Map(); // String(comment_id) -> {cid, li}
  let conn = null;
  let roomName = '';
  let fatal = false;

  // ---- page-level state ---------------------------------------------

  const STATE_TEXT = {
    connected: '已连接',
    reconnecting: '连接中断，正在重连…',
    error: '连接错误',
  };

  function setState(state, text) {
    C.setBodyState(state);
    C.setText(ui.connState, text || STATE_TEXT[state] || state);
  }

  function showPageMessage(text) {
    C.showMessage(ui.pageMessage, text);
  }

  function fail(message) {
    fatal = true;
    govlive.connected = false;
    ui.empty.hidden = true;
    if (conn) conn.stop();
    conn = null;
    setState('error', message);
    showPageMessage(message);
  }

  function notify(text, kind) {
    C.notice(ui.notices, text, kind, NOTICE_MS);
  }

  function setRoomName(name) {
    if (typeof name !== 'string' || !name) return;
    roomName = name;
    C.setText(ui.roomName, name);
    updateCount();
  }

  function updateCount() {
    const ids = [];
    for (const li of ui.list.children) {
      const r = rows.get(li.dataset.commentId);
      if (r) ids.push(r.cid);
    }
    govlive.pending = ids;
    C.setText(ui.count, ids.length);
    ui.count.classList.toggle('has-items', ids.length > 0);
    ui.empty.hidden = ids.length > 0 || fatal;
    document.title = (ids.length > 0 ? '(' + ids.length + ') ' : '') +
      '场控 · ' + (roomName || params.room || '答疑建议审核');
  }

  // ---- rows ---------------------------------------------------------

  function keyOf(cid) {
    return String(cid);
  }

  /** The choices of an item: the suggested entry first, at most one per entry. */
  function choicesOf(item) {
    const out = [];
    const seen = new Set();
    const add = function (c) {
      if (!c || typeof c !== 'object') return;
      if (typeof c.entry_id !== 'string' || c.entry_id === '' || seen.has(c.entry_id)) return;
      seen.add(c.entry_id);
      out.push(c);
    };
    const suggested = typeof item.entry_id === 'string' && item.entry_id
      ? { entry_id: item.entry_id, question: item.question, answer: item.answer,
          domain: item.domain, score: item.score }
      : null;
    const candidates = Array.isArray(item.candidates) ? item.candidates : [];
    if (suggested) {
      // Prefer the candidate's own record for the suggested entry if it is listed.
      add(candidates.find((c) => c && c.entry_id === suggested.entry_id) || suggested);
    }
    candidates.forEach(add);
    return out;
  }

  function scoreText(score) {
    return typeof score === 'number' && Number.isFinite(score) ? '匹配度 ' + score.toFixed(2) : '';
  }

  function entryBody(c) {
    const body = C.el('span', 'choice-body');
    body.appendChild(C.el('span', 'choice-question', c.question || '（无标准问题）'));
    body.appendChild(C.el('span', 'choice-answer', c.answer || ''));
    const meta = [c.domain, c.department, scoreText(c.score), c.entry_id].filter(Boolean);
    body.appendChild(C.el('span', 'choice-meta', meta.join(' · ')));
    return body;
  }

  function buildRow(item) {
    const cid = item.comment_id;
    const li = C.el('li', 'pending');
    li.dataset.commentId = keyOf(cid);

    const head = C.el('div', 'row-head');
    const platform = typeof item.platform === 'string' ? item.platform : '';
    const badge = C.el('span', 'platform', C.platformName(platform) || '未知平台');
    if (/^[a-z0-9_]+$/.test(platform)) badge.classList.add('platform-' + platform);
    head.appendChild(badge);
    const nick = typeof item.nickname === 'string' && item.nickname.trim() ? item.nickname : '匿名网友';
    head.appendChild(C.el('span', 'nickname', nick));
    const time = C.el('time', 'time', C.formatTime(item.received_at));
    if (typeof item.received_at === 'string') time.setAttribute('datetime', item.received_at);
    head.appendChild(time);
    if (item.domain) head.appendChild(C.el('span', 'domain', item.domain));
    li.appendChild(head);

    li.appendChild(C.el('p', 'comment', item.comment || ''));

    const choices = choicesOf(item);
    if (choices.length > 1) {
      const fs = C.el('fieldset', 'choices');
      fs.appendChild(C.el('legend', 'choices-legend', '选择上屏的答案'));
      choices.forEach(function (c, i) {
        const label = C.el('label', 'choice');
        const radio = document.createElement('input');
        radio.type = 'radio';
        radio.name = 'choice-' + keyOf(cid);
        radio.value = c.entry_id;
        radio.checked = i === 0;
        label.appendChild(radio);
        label.appendChild(entryBody(c));
        fs.appendChild(label);
      });
      li.appendChild(fs);
    } else if (choices.length === 1) {
      const single = C.el('div', 'choice single');
      single.dataset.entryId = choices[0].entry_id;
      if (!choices[0].department && item.department) {
        choices[0] = Object.assign({}, choices[0], { department: item.department });
      }
      single.appendChild(entryBody(choices[0]));
      li.appendChild(single);
    } else {
      li.appendChild(C.el('p', 'no-choice', '没有可上屏的建议答案，可跳过或转工单。'));
    }

    const actions = C.el('div', 'actions');
    const approve = C.el('button', 'approve', '批准上屏');
    approve.type = 'button';
    approve.disabled = choices.length === 0;
    const skip = C.el('button', 'skip', '跳过');
    skip.type = 'button';
    const workorder = C.el('button', 'workorder', '转工单');
    workorder.type = 'button';
    actions.append(approve, skip, workorder);
    li.appendChild(actions);

    const notice = C.el('p', 'row-notice');
    notice.setAttribute('role', 'status');
    notice.hidden = true;
    li.appendChild(notice);

    approve.addEventListener('click', function () {
      const entryId = chosenEntry(li);
      if (!entryId) {
        rowNotice(li, '请先选择要上屏的答案');
        return;
      }
      act(cid, li, 'approve', { entry_id: entryId });
    });
    skip.addEventListener('click', function () { act(cid, li, 'skip', {}); });
    workorder.addEventListener('click', function () { act(cid, li, 'workorder', {}); });
    return li;
  }

  function chosenEntry(li) {
    const checked = li.querySelector('input[type="radio"]:checked');
    if (checked) return checked.value;
    const single = li.querySelector('.choice.single');
    return single ? single.dataset.entryId || null : null;
  }

  function addItem(item) {
    if (!item || item.comment_id == null) return;
    const key = keyOf(item.comment_id);
    if (rows.has(key)) return; // never twice for one comment
    const li = buildRow(item);
    rows.set(key, { cid: item.comment_id, li: li });
    ui.list.appendChild(li); // newest at the bottom
    updateCount();
  }

  function removeItem(cid) {
    const key = keyOf(cid);
    const r = rows.get(key);
    if (!r) return false;
    rows.delete(key);
    const li = r.li;
    // Keep keyboard focus in the list when the focused row goes away.
    let focusNext = null;
    if (li.contains(document.activeElement)) {
      const sib = li.nextElementSibling || li.previousElementSibling;
      if (sib) focusNext = sib.querySelector('button.approve:not([disabled])') || sib.querySelector('button');
    }
    li.remove();
    if (focusNext) focusNext.focus();
    updateCount();
    return true;
  }

  function clearItems() {
    rows.clear();
    ui.list.replaceChildren();
    updateCount();
  }

  function rowNotice(li, text) {
    const n = li.querySelector('.row-notice');
    if (!n) return;
    C.setText(n, text);
    n.hidden = !text;
  }

  // Busy rows keep their buttons focusable (a disabled button would drop
  // keyboard focus); act() ignores clicks while the row is busy.
  function setBusy(li, busy) {
    li.classList.toggle('is-busy', busy);
    li.setAttribute('aria-busy', busy ? 'true' : 'false');
    li.querySelectorAll('.actions button').forEach(function (b) {
      if (busy) b.setAttribute('aria-disabled', 'true');
      else b.removeAttribute('aria-disabled');
    });
  }

  // ---- HTTP ---------------------------------------------------------

  function authHeaders(extra) {
    return Object.assign({ Authorization: 'Bearer ' + params.token }, extra || {});
  }

  /** The server's `detail` (FastAPI style) as text, or ''. */
  async function readDetail(res) {
    let text = '';
    try {
      text = await res.text();
    } catch (err) {
      return '';
    }
    try {
      const data = JSON.parse(text);
      const d = data && typeof data === 'object' ? data.detail : undefined;
      if (typeof d === 'string') return d;
      if (Array.isArray(d)) {
        return d.map((x) => (x && typeof x.msg === 'string' ? x.msg : JSON.stringify(x))).join('；');
      }
      if (d != null) return JSON.stringify(d);
    } catch (err) {
      /* not JSON */
    }
    return text.trim().slice(0, 300);
  }

  let tokenMessageShown = false; // page message set by a 401 on an action

  const ACTION_DONE = { approve: '已批准上屏', skip: '已跳过', workorder: '已转工单' };

  async function act(cid, li, action, body) {
    if (li.classList.contains('is-busy')) return;
    rowNotice(li, '');
    setBusy(li, true);
    let res;
    try {
      res = await fetch('/api/control/suggestions/' + encodeURIComponent(String(cid)) + '/' + action, {
        method: 'POST',
        headers: authHeaders({ 'Content-Type': 'application/json' }),
        body: JSON.stringify(body),
        cache: 'no-store',
      });
    } catch (err) {
      setBusy(li, false);
      rowNotice(li, '网络错误，请重试');
      return;
    }
    if (res.ok) {
      if (tokenMessageShown) {
        tokenMessageShown = false;
        showPageMessage('');
      }
      if (removeItem(cid)) notify(ACTION_DONE[action], 'ok');
      return;
    }
    if (res.status === 409) {
      removeItem(cid);
      notify('已被他人处理', 'info');
      return;
    }
    const detail = await readDetail(res);
    setBusy(li, false);
    if (res.status === 401) {
      tokenMessageShown = true;
      showPageMessage('令牌无效');
      rowNotice(li, '令牌无效');
      return;
    }
    rowNotice(li, detail || '操作失败（HTTP ' + res.status + '）');
  }

  /** GET the pending list; resolves to its seq, or null after a fatal error. */
  async function loadPending() {
    let wait = LOAD_RETRY_START_MS;
    for (;;) {
      let res = null;
      let problem = '';
      try {
        res = await fetch('/api/control/pending?room=' + encodeURIComponent(params.room), {
          headers: authHeaders(),
          cache: 'no-store',
        });
      } catch (err) {
        problem = '网络错误';
      }
      if (res && res.ok) {
        let data = null;
        try {
          data = await res.json();
        } catch (err) {
          problem = '服务器返回的数据无法解析';
        }
        if (data && typeof data === 'object') {
          setRoomName(data.room_name);
          (Array.isArray(data.items) ? data.items : []).forEach(addItem);
          showPageMessage('');
          return typeof data.seq === 'number' && Number.isFinite(data.seq) ? data.seq : null;
        }
      } else if (res) {
        if (res.status === 401) {
          fail('令牌无效');
          return undefined;
        }
        if (res.status === 404) {
          fail('未知直播间');
          return undefined;
        }
        if (res.status === 403) {
          const detail = await readDetail(res);
          fail('无权访问' + (detail ? '：' + detail : ''));
          return undefined;
        }
        problem = (await readDetail(res)) || 'HTTP ' + res.status;
      }
      setState('reconnecting', '加载失败，正在重试…');
      showPageMessage('加载待处理列表失败（' + problem + '），' + Math.round(wait / 1000) + ' 秒后重试');
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, LOAD_RETRY_MAX_MS);
    }
  }

  // ---- websocket ----------------------------------------------------

  function onEvent(ev) {
    if (ev.kind === 'suggest') {
      addItem({
        comment_id: ev.comment_id,
        platform: ev.platform,
        nickname: ev.nickname,
        comment: ev.comment,
        received_at: ev.at,
        entry_id: ev.entry_id,
        question: ev.question,
        answer: ev.answer,
        domain: ev.domain,
        department: ev.department,
        score: ev.score,
        candidates: ev.candidates,
      });
    } else if (REMOVING.has(ev.kind)) {
      removeItem(ev.comment_id);
    }
  }

  async function start() {
    setState('reconnecting', '加载中…');
    const seq = await loadPending();
    if (fatal || seq === undefined) return;
    govlive.lastSeq = seq;
    conn = C.connectRoom({
      room: params.room,
      token: params.token,
      since: seq,
      onState: function (state) {
        govlive.connected = state === 'connected';
        if (!fatal) setState(state);
      },
      onSeq: function (s) {
        govlive.lastSeq = s;
      },
      onHello: function (msg, info) {
        setRoomName(msg.room_name);
        if (info.reset) {
          // The server's sequence went backwards: what we list may be stale.
          // Start over from a fresh pending list.
          conn.stop();
          conn = null;
          govlive.connected = false;
          clearItems();
          start();
        }
      },
      onEvent: onEvent,
      onFatal: function (message) {
        fail(message);
      },
    });
  }

  function main() {
    updateCount();
    const missing = C.missingParamsMessage(params);
    if (missing) {
      fail(missing);
      C.setText(ui.connState, '未连接');
      ui.empty.hidden = true;
      return;
    }
    C.setText(ui.roomName, params.room);
    start();
  }

  main();
})();
