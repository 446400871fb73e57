/* overlay.html: shows the latest answered question (kind answer / approved)
 * as a lower-third card. All server strings go in through textContent. */
(function () {
  'use strict';

  const C = window.GovliveCommon;
  const FADE_MS = 260;
  const LONG_ANSWER_CHARS = 80;
  const XLONG_ANSWER_CHARS = 140;
  const DISPLAYABLE = new Set(['answer', 'approved']);

  // Read by tests and handy in the OBS "interact" console.
  const govlive = { lastSeq: null, connected: false, shown: null };
  window.govlive = govlive;

  const $ = (id) => document.getElementById(id);
  const card = $('card');
  const ui = {
    platform: $('platform'),
    nicknameWrap: $('nickname-wrap'),
    nickname: $('nickname'),
    comment: $('comment'),
    department: $('department'),
    question: $('question'),
    answer: $('answer'),
    message: $('message'),
  };

  function showMessage(text) {
    C.setText(ui.message, text);
    ui.message.hidden = !text;
  }

  function isDisplayable(ev) {
    return !!ev && typeof ev === 'object' && DISPLAYABLE.has(ev.kind) &&
      typeof ev.answer === 'string' && ev.answer !== '';
  }

  function fill(ev) {
    const platform = typeof ev.platform === 'string' ? ev.platform : '';
    ui.platform.className = 'platform';
    if (/^[a-z0-9_]+$/.test(platform)) ui.platform.classList.add('platform-' + platform);
    C.setText(ui.platform, C.platformName(platform));

    const nick = typeof ev.nickname === 'string' ? ev.nickname.trim() : '';
    C.setText(ui.nickname, nick);
    ui.nicknameWrap.hidden = nick === '';
    C.setText(ui.comment, ev.comment);
    C.setText(ui.department, ev.department);
    C.setText(ui.question, ev.question);
    C.setText(ui.answer, ev.answer);

    const n = C.charCount(ev.answer);
    ui.answer.classList.toggle('is-long', n > LONG_ANSWER_CHARS && n <= XLONG_ANSWER_CHARS);
    ui.answer.classList.toggle('is-xlong', n > XLONG_ANSWER_CHARS);

    card.dataset.seq = ev.seq == null ? '' : String(ev.seq);
    card.dataset.kind = ev.kind || '';
  }

  // Several events in a burst (a replay after reconnecting) end in one swap
  // to the newest, not a flicker through each of them.
  let pending = null;
  let fadeTimer = null;

  function render() {
    if (pending === null) return;
    if (card.classList.contains('is-empty')) {
      fill(pending);
      pending = null;
      card.classList.remove('is-empty');
      card.setAttribute('aria-hidden', 'false');
      return;
    }
    if (fadeTimer !== null) return; // the running fade picks up the newest
    card.classList.add('is-fading');
    fadeTimer = setTimeout(function () {
      fadeTimer = null;
      if (pending !== null) {
        fill(pending);
        pending = null;
      }
      card.classList.remove('is-fading');
    }, FADE_MS);
  }

  function show(ev) {
    if (!isDisplayable(ev)) return;
    govlive.shown = ev;
    pending = ev;
    render();
  }

  function main() {
    const params = C.readParams();
    const missing = C.missingParamsMessage(params);
    if (missing) {
      C.setBodyState('error');
      showMessage(missing);
      return;
    }

    C.connectRoom({
      room: params.room,
      token: params.token,
      since: null,
      onState: function (state) {
        govlive.connected = state === 'connected';
        C.setBodyState(state);
        if (state === 'connected') showMessage('');
      },
      onSeq: function (seq) {
        govlive.lastSeq = seq;
      },
      onHello: function (msg, info) {
        if (typeof msg.room_name === 'string' && msg.room_name) {
          document.title = msg.room_name + ' · 答疑字幕';
        }
        // First connection (or the server's store was reset): show the
        // latest answer at once. On a resume the replay brings it instead.
        if ((govlive.shown === null || info.reset) && isDisplayable(msg.latest)) {
          show(msg.latest);
        }
      },
      onEvent: function (ev) {
        if (DISPLAYABLE.has(ev.kind)) show(ev);
      },
      onFatal: function (message) {
        govlive.connected = false;
        showMessage(message);
      },
    });
  }

  main();
})();
