/* overlay.html: shows the latest answered question (kind answer / approved)
 * as a lower-third card. All server strings go in through textContent. */
(function () {
  'use strict';

  const C = window.GovliveCommon;
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

  // The text is swapped at once (so the page always shows govlive.shown)
  // and the card fades in again; a burst of events (a replay after
  // reconnecting) simply restarts the fade.
  function render(ev) {
    fill(ev);
    if (card.classList.contains('is-empty')) {
      card.classList.remove('is-empty');
      card.setAttribute('aria-hidden', 'false');
      return; // the first appearance is the .card transition
    }
    card.classList.remove('is-entering');
    void card.offsetWidth; // restart the animation
    card.classList.add('is-entering');
  }

  function show(ev) {
    if (!isDisplayable(ev)) return;
    govlive.shown = ev;
    render(ev);
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
