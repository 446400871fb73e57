/* Shared code for the overlay, control, staff and ledger pages: query parsing,
 * platform names, time formatting, page messages and notices, and the room
 * websocket (backoff, resume with since).
 *
 * Everything that comes from the server is put into the page with
 * textContent / createElement only, never as HTML.
 */
(function () {
  'use strict';

  const PLATFORM_NAMES = Object.freeze({
    douyin: '抖音',
    kuaishou: '快手',
    wechat_channels: '视频号',
  });

  // Close codes the server uses for conditions that retrying cannot fix.
  const FATAL_CLOSE = Object.freeze({
    4401: '令牌无效',
    4403: '此令牌不能用于该直播间',
    4404: '未知直播间',
  });

  const BACKOFF_START_MS = 500;
  const BACKOFF_MAX_MS = 5000;
  // An open socket that sends no hello within this time is dropped and retried.
  const HELLO_TIMEOUT_MS = 10000;

  function platformName(platform) {
    if (typeof platform !== 'string' || platform === '') return '';
    return Object.prototype.hasOwnProperty.call(PLATFORM_NAMES, platform)
      ? PLATFORM_NAMES[platform]
      : platform;
  }

  /**
   * {room, token} from location.search; missing or empty values are null.
   *
   * opts.keep (a name shared by the pages that use the same token: 'control',
   * 'staff'): a ?token= is moved into sessionStorage and taken out of the
   * address bar with history.replaceState, so the long-lived token stays in
   * neither the browser history nor a screenshot; with none in the URL (a
   * reload, a link between the staff pages) the stored one is used.
   */
  function readParams(opts) {
    const q = new URLSearchParams(window.location.search);
    const room = (q.get('room') || '').trim();
    let token = (q.get('token') || '').trim();
    const keep = opts && opts.keep;
    if (keep) {
      const key = 'govlive.token.' + keep;
      if (token) {
        try { window.sessionStorage.setItem(key, token); } catch (err) { /* storage off: this load still works */ }
      } else {
        try { token = (window.sessionStorage.getItem(key) || '').trim(); } catch (err) { token = ''; }
      }
      if (q.has('token')) {
        q.delete('token');
        const rest = q.toString();
        try {
          history.replaceState(history.state, '', window.location.pathname + (rest ? '?' + rest : '') + window.location.hash);
        } catch (err) { /* ignore */ }
      }
    }
    return { room: room || null, token: token || null };
  }

  /** The Chinese message for missing parameters, or null when both are there. */
  function missingParamsMessage(params) {
    const missing = [];
    if (!params.room) missing.push('room');
    if (!params.token) missing.push('token');
    if (missing.length === 0) return null;
    return '缺少 ' + missing.join(' 和 ') + ' 参数：请使用 ?room=直播间&token=令牌 打开本页面';
  }

  function setBodyState(state) {
    if (document.body) document.body.dataset.state = state;
  }

  /** Replace el's children with a text node; null/undefined become ''. */
  function setText(el, value) {
    if (!el) return;
    el.textContent = value == null ? '' : String(value);
  }

  /** createElement with a class name and optional text (always as text). */
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text != null) node.textContent = String(text);
    return node;
  }

  function pad2(n) {
    return String(n).padStart(2, '0');
  }

  /**
   * HH:MM:SS of an ISO timestamp. A timestamp with an explicit offset
   * (…+08:00) is shown in that offset's wall time, i.e. the time at the
   * service centre; one in UTC (…Z) or without offset in the browser's time.
   */
  function formatTime(iso) {
    if (typeof iso !== 'string' || iso === '') return '';
    const m = /T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?[+-]\d{2}:?\d{2}$/.exec(iso);
    if (m) return m[1] + ':' + m[2] + ':' + m[3];
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return '';
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes()) + ':' + pad2(d.getSeconds());
  }

  function charCount(s) {
    return typeof s === 'string' ? Array.from(s).length : 0;
  }

  function wsUrl(room, token, since) {
    const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    let url = proto + '//' + window.location.host + '/ws/overlay/' +
      encodeURIComponent(room) + '?token=' + encodeURIComponent(token);
    if (since != null) url += '&since=' + encodeURIComponent(String(since));
    return url;
  }

  /**
   * Keep a websocket to /ws/overlay/{room} open.
   *
   * opts:
   *   room, token          required
   *   since                number or null: resume after this seq (control page)
   *   onHello(msg, info)   the hello; info.reset is true when the server's seq
   *                        went backwards (store reset) and lastSeq followed it
   *   onEvent(ev)          each event with seq > last seq seen, in order
   *   onSeq(seq)           lastSeq changed
   *   onState(state)       'reconnecting' | 'connected' | 'error'
   *   onFatal(message, code)  4401 / 4404: no more reconnecting
   *
   * After the first hello every (re)connection carries since=<last seq>.
   * Returns {stop(), get lastSeq(), get connected()}.
   */
  function connectRoom(opts) {
    const st = {
      lastSeq: typeof opts.since === 'number' && Number.isFinite(opts.since) ? opts.since : null,
      ws: null,
      delay: BACKOFF_START_MS,
      retryTimer: null,
      helloTimer: null,
      connected: false,
      stopped: false,
    };

    function call(name, ...args) {
      const fn = opts[name];
      if (typeof fn !== 'function') return;
      try {
        fn(...args);
      } catch (err) {
        console.error('govlive: ' + name + ' handler failed', err);
      }
    }

    function setSeq(seq) {
      st.lastSeq = seq;
      call('onSeq', seq);
    }

    function clearTimers() {
      if (st.retryTimer !== null) {
        clearTimeout(st.retryTimer);
        st.retryTimer = null;
      }
      if (st.helloTimer !== null) {
        clearTimeout(st.helloTimer);
        st.helloTimer = null;
      }
    }

    function scheduleReconnect() {
      if (st.stopped || st.retryTimer !== null) return;
      const wait = st.delay;
      st.delay = Math.min(st.delay * 2, BACKOFF_MAX_MS);
      st.retryTimer = setTimeout(function () {
        st.retryTimer = null;
        open();
      }, wait);
    }

    function onMessage(ws, raw) {
      if (ws !== st.ws || st.stopped) return;
      let msg;
      try {
        msg = JSON.parse(raw);
      } catch (err) {
        console.warn('govlive: ignoring a message that is not JSON');
        return;
      }
      if (!msg || typeof msg !== 'object') return;

      if (msg.type === 'hello') {
        if (st.helloTimer !== null) {
          clearTimeout(st.helloTimer);
          st.helloTimer = null;
        }
        const seq = typeof msg.seq === 'number' && Number.isFinite(msg.seq) ? msg.seq : null;
        let reset = false;
        if (st.lastSeq === null) {
          if (seq !== null) setSeq(seq);
        } else if (seq !== null && seq < st.lastSeq) {
          // The server's sequence went backwards (its store was reset):
          // follow it, or every new event would be dropped as already seen.
          reset = true;
          setSeq(seq);
        }
        st.connected = true;
        st.delay = BACKOFF_START_MS;
        call('onState', 'connected');
        call('onHello', msg, { reset: reset });
        return;
      }

      if (msg.type === 'event') {
        if (typeof msg.seq !== 'number' || !Number.isFinite(msg.seq)) return;
        if (st.lastSeq !== null && msg.seq <= st.lastSeq) return; // already seen
        if (opts.room && typeof msg.room === 'string' && msg.room !== opts.room) return;
        setSeq(msg.seq);
        call('onEvent', msg);
      }
    }

    function onClose(ws, ev) {
      if (ws !== st.ws) return;
      st.ws = null;
      clearTimers();
      const wasConnected = st.connected;
      st.connected = false;
      if (st.stopped) return;
      const code = ev && typeof ev.code === 'number' ? ev.code : 0;
      if (Object.prototype.hasOwnProperty.call(FATAL_CLOSE, code)) {
        st.stopped = true;
        call('onState', 'error');
        call('onFatal', FATAL_CLOSE[code], code);
        return;
      }
      if (wasConnected) st.delay = BACKOFF_START_MS;
      call('onState', 'reconnecting');
      scheduleReconnect();
    }

    function open() {
      if (st.stopped) return;
      let ws;
      try {
        ws = new WebSocket(wsUrl(opts.room, opts.token, st.lastSeq));
      } catch (err) {
        console.error('govlive: cannot open websocket', err);
        call('onState', 'reconnecting');
        scheduleReconnect();
        return;
      }
      st.ws = ws;
      ws.addEventListener('open', function () {
        if (ws !== st.ws) return;
        st.helloTimer = setTimeout(function () {
          st.helloTimer = null;
          if (ws === st.ws && !st.connected) {
            try { ws.close(4000, 'no hello'); } catch (err) { /* already closing */ }
          }
        }, HELLO_TIMEOUT_MS);
      });
      ws.addEventListener('message', function (ev) { onMessage(ws, ev.data); });
      // An error is always followed by close; reconnecting is decided there.
      ws.addEventListener('error', function () {});
      ws.addEventListener('close', function (ev) { onClose(ws, ev); });
    }

    // Back online after a network drop: do not wait out the backoff.
    window.addEventListener('online', function () {
      if (!st.stopped && st.ws === null && st.retryTimer !== null) {
        clearTimeout(st.retryTimer);
        st.retryTimer = null;
        st.delay = BACKOFF_START_MS;
        open();
      }
    });

    call('onState', 'reconnecting');
    open();

    return {
      get lastSeq() { return st.lastSeq; },
      get connected() { return st.connected; },
      stop: function () {
        st.stopped = true;
        clearTimers();
        const ws = st.ws;
        st.ws = null;
        st.connected = false;
        if (ws) {
          try { ws.close(1000, 'stopped'); } catch (err) { /* ignore */ }
        }
      },
    };
  }

  /** Show `text` in a page-message element; an empty text hides it. */
  function showMessage(element, text) {
    setText(element, text);
    element.hidden = !text;
  }

  /** A transient notice (styled by desk.css) added to `container`, gone after `ms`. */
  function notice(container, text, kind, ms) {
    const n = el('div', 'notice' + (kind ? ' notice-' + kind : ''), text);
    container.appendChild(n);
    setTimeout(function () { n.remove(); }, ms);
    return n;
  }

  window.GovliveCommon = Object.freeze({
    PLATFORM_NAMES: PLATFORM_NAMES,
    platformName: platformName,
    readParams: readParams,
    missingParamsMessage: missingParamsMessage,
    setBodyState: setBodyState,
    setText: setText,
    showMessage: showMessage,
    notice: notice,
    el: el,
    formatTime: formatTime,
    charCount: charCount,
    wsUrl: wsUrl,
    connectRoom: connectRoom,
  });
})();
