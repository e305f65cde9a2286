// vt.js: the dashboard's terminal emulator, written for wasmpod (no
// third-party code). WasmpodVT.Screen is the model: rows×cols cells with
// a cursor, fed bytes (UTF-8, a character may be split across calls) and
// answering with the VT100/xterm subset common programs emit. Controls:
// BEL, BS, HT, LF/VT/FF, CR. ESC: 7 8 (save/restore cursor), D E M (index,
// next line, reverse index), c (reset), ( ) * + X (charset: ignored), ]
// (OSC, ignored up to BEL or ST). CSI: @ A B C D E F G H J K L M P S T X
// a d e f m n r s u and ?h/?l for 1 (application cursor keys), 7
// (autowrap), 25 (cursor visible), 47/1047/1049 (alternate screen; 1049
// also saves the cursor). SGR: 0 1 2 3 4 7 22 23 24 27, 30-37 38;5;N
// 38;2;R;G;B 39, 40-47 48;5;N 48;2;R;G;B 49, 90-97, 100-107.
// East Asian wide characters and emoji take two cells (the second holds
// ''), combining marks join the cell before them (cellWidth).
// WasmpodVT.View draws a Screen into an element: a div per row, each run
// of cells with the same attributes a span with classes vt-fN/vt-bN (the
// 16 colours), vt-bold, vt-dim, vt-italic, vt-ul, vt-rev, and a CSSOM
// color for the 256-colour and direct colours (the page's CSP allows no
// style attributes); rows that scroll off the main screen's top are kept
// above it (scrollback).
'use strict';
(function () {
  const BOLD = 1, DIM = 2, ITALIC = 4, UL = 8, REV = 16;
  const DEF = -1; // the default colour
  // Bounds a hostile guest's output cannot push the page past: the screen's
  // size, a CSI sequence's parameter bytes (a longer one is consumed and
  // ignored, as xterm drops one beyond its parameter limit), the OSC
  // string kept, and the combining marks one cell gathers.
  const MAX_ROWS = 500, MAX_COLS = 1000, MAX_PARAMS = 256, MAX_OSC = 4096, MAX_CELL = 32;
  const blank = (bg) => ({ c: ' ', fg: DEF, bg: bg == null ? DEF : bg, f: 0 }); // an erased cell takes the current background, as xterm's

  // cellWidth: 0 for combining marks and zero-width characters, 2 for the
  // East Asian wide and fullwidth blocks and emoji, else 1 (a
  // simplification of Unicode's East_Asian_Width).
  const zeroWidth = /^[\p{Mn}\p{Me}\u200B-\u200F\u2060\uFE00-\uFE0F]$/u;
  const WIDE = [[0x1100, 0x115f], [0x231a, 0x231b], [0x2329, 0x232a], [0x23e9, 0x23ec], [0x2614, 0x2615], [0x2e80, 0x303e], [0x3041, 0x33ff],
    [0x3400, 0x4dbf], [0x4e00, 0x9fff], [0xa000, 0xa4cf], [0xa960, 0xa97f], [0xac00, 0xd7a3], [0xf900, 0xfaff], [0xfe10, 0xfe19],
    [0xfe30, 0xfe6f], [0xff00, 0xff60], [0xffe0, 0xffe6], [0x1f300, 0x1f64f], [0x1f680, 0x1f6ff], [0x1f900, 0x1f9ff], [0x1fa70, 0x1faff],
    [0x20000, 0x3fffd]];
  function cellWidth(ch) {
    const cp = ch.codePointAt(0);
    if (cp < 0x300) return 1;
    if (zeroWidth.test(ch)) return 0;
    if (cp < 0x1100) return 1;
    for (const [a, b] of WIDE) { if (cp < a) return 1; if (cp <= b) return 2; }
    return 1;
  }

  class Screen {
    // opts.onReply(str): answers to queries (CSI 6n, 5n, c);
    // opts.onScrollOut(row): a row leaving the main screen's top.
    constructor(rows, cols, opts) {
      this.opts = opts || {};
      this.dec = new TextDecoder();
      this.rows = Math.min(MAX_ROWS, Math.max(1, rows | 0)); this.cols = Math.min(MAX_COLS, Math.max(1, cols | 0));
      this.reset();
    }
    reset() {
      this.fg = DEF; this.bg = DEF; this.f = 0;
      this.main = this.grid(this.rows); this.alt = null;
      this.buf = this.main;
      this.x = 0; this.y = 0; this.wrapNext = false;
      this.top = 0; this.bot = this.rows - 1;
      this.cursorVisible = true; this.autowrap = true; this.appCursor = false;
      this.saved = null; this.savedMain = null;
      this.state = 0; this.params = ''; this.osc = '';
      this.dirty = true;
    }
    grid(n) { const g = []; for (let i = 0; i < n; i++) g.push(this.row()); return g; }
    row() { const r = []; for (let i = 0; i < this.cols; i++) r.push(blank(this.bg)); return r; }
    get altActive() { return this.buf !== this.main; }

    // write feeds output: a Uint8Array (UTF-8, streamed) or a string.
    write(data) {
      const s = typeof data === 'string' ? data : this.dec.decode(data, { stream: true });
      for (const ch of s) this.char(ch);
      this.dirty = true;
    }
    char(ch) {
      const code = ch.codePointAt(0);
      switch (this.state) {
        case 1: this.escape(ch); return; // after ESC
        case 2: // CSI parameters
          if (code >= 0x20 && code <= 0x3f) { // parameters and intermediates
            if (this.params.length < MAX_PARAMS) this.params += ch; else this.tooLong = true;
            return;
          }
          if (code >= 0x40 && code <= 0x7e) { this.state = 0; if (!this.tooLong) this.csi(this.params, ch); return; }
          if (code === 0x1b) { this.state = 1; return; }
          if (code === 0x18 || code === 0x1a) { this.state = 0; return; } // CAN, SUB: the sequence is cancelled
          if (code < 0x20) { this.control(code); return; } // executed inside CSI, as a VT does
          this.state = 0; return;
        case 3: // OSC: ignored up to BEL or ESC \ (or CAN, SUB); what is past MAX_OSC is dropped, never drawn
          if (code === 7 || code === 0x18 || code === 0x1a) this.state = 0;
          else if (code === 0x1b) this.state = 4;
          else if (this.osc.length < MAX_OSC) this.osc += ch;
          return;
        case 4: this.state = ch === '\\' ? 0 : 3; return;
        case 5: this.state = 0; return; // the charset after ESC ( ) * +
      }
      if (code < 0x20 || code === 0x7f) { this.control(code); return; }
      if (code >= 0x80 && code < 0xa0) return; // C1 controls: dropped
      this.print(ch);
    }
    control(code) {
      switch (code) {
        case 0x1b: this.state = 1; this.params = ''; this.osc = ''; break;
        case 0x0d: this.x = 0; this.wrapNext = false; break;
        case 0x0a: case 0x0b: case 0x0c: this.lf(); break;
        case 0x08: if (this.x > 0) this.x--; this.wrapNext = false; break;
        case 0x09: this.x = Math.min(this.cols - 1, (Math.floor(this.x / 8) + 1) * 8); this.wrapNext = false; break;
        default: // BEL, NUL, SO/SI, DEL...: nothing to draw
      }
    }
    print(ch) {
      const w = cellWidth(ch);
      if (w === 0) { // a combining mark joins the character before it
        const x = this.wrapNext ? this.x : this.x - 1;
        let c = this.buf[this.y][x];
        if (c && c.c === '' && x > 0) c = this.buf[this.y][x - 1];
        if (c && c.c !== '' && c.c.length < MAX_CELL) c.c += ch;
        return;
      }
      const wide = w === 2 && this.cols > 1;
      if (this.wrapNext || (wide && this.x === this.cols - 1)) {
        if (this.autowrap) {
          if (!this.wrapNext) this.put(this.x, { c: ' ', fg: DEF, bg: this.bg, f: 0 }); // no room for both halves
          this.x = 0; this.lf();
        } else if (wide) this.x = this.cols - 2;
        this.wrapNext = false;
      }
      this.put(this.x, { c: ch, fg: this.fg, bg: this.bg, f: this.f, w: wide ? 2 : 1 });
      if (wide) this.put(this.x + 1, { c: '', fg: this.fg, bg: this.bg, f: this.f }); // the right half
      const next = this.x + (wide ? 2 : 1);
      if (next >= this.cols) { this.x = this.cols - 1; this.wrapNext = true; } else this.x = next;
    }
    // put writes a cell, blanking the other half of a wide character it
    // overwrites half of.
    put(x, cell) {
      const r = this.buf[this.y];
      const old = r[x];
      if (old.c === '' && x > 0 && r[x - 1].w === 2) r[x - 1] = blank(this.bg);
      if (old.w === 2 && x + 1 < this.cols && r[x + 1].c === '') r[x + 1] = blank(this.bg);
      r[x] = cell;
    }
    lf() {
      this.wrapNext = false;
      if (this.y === this.bot) this.scrollUp(1);
      else if (this.y < this.rows - 1) this.y++;
    }
    ri() {
      if (this.y === this.top) this.scrollDown(1);
      else if (this.y > 0) this.y--;
    }
    scrollUp(n) {
      for (let i = 0; i < n; i++) {
        const [gone] = this.buf.splice(this.top, 1);
        this.buf.splice(this.bot, 0, this.row());
        if (this.top === 0 && !this.altActive && this.opts.onScrollOut) this.opts.onScrollOut(gone);
      }
    }
    scrollDown(n) {
      for (let i = 0; i < n; i++) {
        this.buf.splice(this.bot, 1);
        this.buf.splice(this.top, 0, this.row());
      }
    }
    escape(ch) {
      this.state = 0;
      switch (ch) {
        case '[': this.state = 2; this.params = ''; this.tooLong = false; break;
        case ']': this.state = 3; this.osc = ''; break;
        case '(': case ')': case '*': case '+': this.state = 5; break;
        case '7': this.saveCursor(); break;
        case '8': this.restoreCursor(); break;
        case 'D': this.lf(); break;
        case 'E': this.x = 0; this.lf(); break;
        case 'M': this.wrapNext = false; this.ri(); break;
        case 'c': this.reset(); break;
        default: // ESC = >, and the rest: ignored
      }
    }
    saveCursor() { this.saved = { x: this.x, y: this.y, fg: this.fg, bg: this.bg, f: this.f, wrapNext: this.wrapNext }; }
    restoreCursor() {
      const s = this.saved || { x: 0, y: 0, fg: DEF, bg: DEF, f: 0, wrapNext: false };
      this.x = Math.min(s.x, this.cols - 1); this.y = Math.min(s.y, this.rows - 1);
      this.fg = s.fg; this.bg = s.bg; this.f = s.f; this.wrapNext = s.wrapNext;
    }
    moveTo(y, x) {
      this.y = Math.max(0, Math.min(this.rows - 1, y));
      this.x = Math.max(0, Math.min(this.cols - 1, x));
      this.wrapNext = false;
    }
    clearCells(y, from, to) { // [from, to)
      const r = this.buf[y];
      for (let i = Math.max(0, from); i < Math.min(this.cols, to); i++) r[i] = blank(this.bg);
    }
    csi(raw, fin) {
      const priv = raw[0] === '?' ? '?' : (/^[<=>]/.test(raw) ? raw[0] : '');
      if (/[ -\/]/.test(raw)) return; // CSI with intermediates (DECSCUSR...): ignored
      const ps = (priv ? raw.slice(1) : raw).split(';').map((p) => (p === '' ? NaN : parseInt(p, 10)));
      const p = (i, d) => (Number.isNaN(ps[i]) || ps[i] === undefined ? d : ps[i]);
      const n = Math.max(1, p(0, 1));
      if (priv === '?') {
        if (fin === 'h' || fin === 'l') for (const m of ps) this.decMode(m, fin === 'h');
        return;
      }
      if (priv) return; // CSI > c and friends
      switch (fin) {
        case 'A': this.moveTo(Math.max(this.y - n, this.y >= this.top ? this.top : 0), this.x); break;
        case 'B': case 'e': this.moveTo(Math.min(this.y + n, this.y <= this.bot ? this.bot : this.rows - 1), this.x); break;
        case 'C': case 'a': this.moveTo(this.y, this.x + n); break;
        case 'D': this.moveTo(this.y, Math.min(this.x, this.cols - 1) - n); break;
        case 'E': this.moveTo(this.y + n, 0); break;
        case 'F': this.moveTo(this.y - n, 0); break;
        case 'G': case '`': this.moveTo(this.y, n - 1); break;
        case 'd': this.moveTo(n - 1, this.x); break;
        case 'H': case 'f': this.moveTo(Math.max(1, p(0, 1)) - 1, Math.max(1, p(1, 1)) - 1); break;
        case 'J': {
          const m = p(0, 0);
          if (m === 0) { this.clearCells(this.y, this.x, this.cols); for (let y = this.y + 1; y < this.rows; y++) this.clearCells(y, 0, this.cols); }
          else if (m === 1) { this.clearCells(this.y, 0, this.x + 1); for (let y = 0; y < this.y; y++) this.clearCells(y, 0, this.cols); }
          else if (m === 2 || m === 3) for (let y = 0; y < this.rows; y++) this.clearCells(y, 0, this.cols);
          break;
        }
        case 'K': {
          const m = p(0, 0);
          if (m === 0) this.clearCells(this.y, this.x, this.cols);
          else if (m === 1) this.clearCells(this.y, 0, this.x + 1);
          else if (m === 2) this.clearCells(this.y, 0, this.cols);
          break;
        }
        case 'X': this.clearCells(this.y, this.x, this.x + n); break;
        case '@': { const r = this.buf[this.y]; for (let i = 0; i < Math.min(n, this.cols - this.x); i++) { r.splice(this.x, 0, blank(this.bg)); r.pop(); } break; }
        case 'P': { const r = this.buf[this.y]; for (let i = 0; i < Math.min(n, this.cols - this.x); i++) { r.splice(this.x, 1); r.push(blank(this.bg)); } break; }
        case 'L': case 'M':
          if (this.y >= this.top && this.y <= this.bot) {
            const t = this.top; this.top = this.y;
            if (fin === 'L') this.scrollDown(Math.min(n, this.bot - this.y + 1)); else this.scrollUp(Math.min(n, this.bot - this.y + 1));
            this.top = t; this.x = 0; this.wrapNext = false;
          }
          break;
        case 'S': this.scrollUp(Math.min(n, this.bot - this.top + 1)); break; // more would only scroll blank rows
        case 'T': this.scrollDown(Math.min(n, this.bot - this.top + 1)); break;
        case 'r': {
          const t = p(0, 1) - 1, b = p(1, this.rows) - 1;
          if (t >= 0 && b < this.rows && t < b) { this.top = t; this.bot = b; this.moveTo(0, 0); }
          break;
        }
        case 's': this.saveCursor(); break;
        case 'u': this.restoreCursor(); break;
        case 'm': this.sgr(ps); break;
        case 'n':
          if (p(0, 0) === 6) this.reply('\x1b[' + (this.y + 1) + ';' + (this.x + 1) + 'R');
          else if (p(0, 0) === 5) this.reply('\x1b[0n');
          break;
        case 'c': if (p(0, 0) === 0) this.reply('\x1b[?1;2c'); break; // a VT100 with AVO
        default: // h/l (ANSI modes), t, q...: ignored
      }
    }
    reply(s) { if (this.opts.onReply) this.opts.onReply(s); }
    decMode(m, on) {
      switch (m) {
        case 1: this.appCursor = on; break;
        case 7: this.autowrap = on; if (!on) this.wrapNext = false; break;
        case 25: this.cursorVisible = on; break;
        case 47: case 1047: case 1049:
          if (on && !this.altActive) {
            if (m === 1049) { this.saveCursor(); this.savedMain = this.saved; }
            this.alt = this.grid(this.rows); this.buf = this.alt;
            if (m === 1049) this.moveTo(0, 0);
          } else if (!on && this.altActive) {
            this.buf = this.main; this.alt = null;
            if (m === 1049 && this.savedMain) { this.saved = this.savedMain; this.restoreCursor(); }
          }
          break;
        default:
      }
    }
    sgr(ps) {
      if (!ps.length) ps = [0];
      for (let i = 0; i < ps.length; i++) {
        const v = Number.isNaN(ps[i]) ? 0 : ps[i];
        if (v === 0) { this.fg = DEF; this.bg = DEF; this.f = 0; }
        else if (v === 1) this.f |= BOLD;
        else if (v === 2) this.f |= DIM;
        else if (v === 3) this.f |= ITALIC;
        else if (v === 4) this.f |= UL;
        else if (v === 7) this.f |= REV;
        else if (v === 22) this.f &= ~(BOLD | DIM);
        else if (v === 23) this.f &= ~ITALIC;
        else if (v === 24) this.f &= ~UL;
        else if (v === 27) this.f &= ~REV;
        else if (v >= 30 && v <= 37) this.fg = v - 30;
        else if (v >= 40 && v <= 47) this.bg = v - 40;
        else if (v >= 90 && v <= 97) this.fg = v - 90 + 8;
        else if (v >= 100 && v <= 107) this.bg = v - 100 + 8;
        else if (v === 39) this.fg = DEF;
        else if (v === 49) this.bg = DEF;
        else if (v === 38 || v === 48) {
          let c = null;
          if (ps[i + 1] === 5 && ps[i + 2] >= 0 && ps[i + 2] <= 255) { c = ps[i + 2]; i += 2; }
          else if (ps[i + 1] === 2 && ps.length >= i + 5) {
            const [r, g, b] = [ps[i + 2], ps[i + 3], ps[i + 4]].map((x) => Math.max(0, Math.min(255, x | 0)));
            c = 0x1000000 | (r << 16) | (g << 8) | b; i += 4;
          } else break; // malformed: the rest of the sequence is dropped
          if (v === 38) this.fg = c; else this.bg = c;
        }
      }
    }
    // resize keeps the cells that still fit; rows cut from the bottom of
    // the main screen under the cursor go to the scrollback first.
    resize(rows, cols) {
      rows = Math.min(MAX_ROWS, Math.max(1, rows | 0)); cols = Math.min(MAX_COLS, Math.max(1, cols | 0));
      if (rows === this.rows && cols === this.cols) return;
      const fit = (g) => {
        for (const r of g) { while (r.length < cols) r.push(blank()); r.length = cols; }
        return g;
      };
      const oldRows = this.rows;
      this.cols = cols;
      for (const g of [this.main, this.alt]) {
        if (!g) continue;
        fit(g);
        while (g.length < rows) g.push(this.row());
      }
      if (rows < oldRows) {
        // Drop rows under the cursor first, then from the top.
        const spare = (g) => { while (g.length > rows && g.length - 1 > this.y) g.pop(); };
        spare(this.main); if (this.alt) spare(this.alt);
        while (this.main.length > rows) { const r = this.main.shift(); if (this.opts.onScrollOut) this.opts.onScrollOut(r); }
        if (this.alt) while (this.alt.length > rows) this.alt.shift();
        this.y = Math.min(this.y, rows - 1);
      }
      this.rows = rows;
      this.top = 0; this.bot = rows - 1;
      this.x = Math.min(this.x, cols - 1);
      this.wrapNext = false;
      this.dirty = true;
    }
    // lines: the screen's text, a string per row, trailing blanks cut.
    lines() { return this.buf.map((r) => r.map((c) => c.c).join('').replace(/ +$/, '')); }
    cell(y, x) { return this.buf[y] && this.buf[y][x]; }
  }

  // The xterm 256-colour palette beyond the 16 classes: a 6×6×6 cube,
  // then 24 greys.
  function rgb256(n) {
    if (n >= 232) { const g = 8 + 10 * (n - 232); return 'rgb(' + g + ',' + g + ',' + g + ')'; }
    n -= 16;
    const lv = (v) => (v ? 55 + 40 * v : 0);
    return 'rgb(' + lv(Math.floor(n / 36)) + ',' + lv(Math.floor(n / 6) % 6) + ',' + lv(n % 6) + ')';
  }
  const colour = (c) => (c & 0x1000000 ? 'rgb(' + ((c >> 16) & 255) + ',' + ((c >> 8) & 255) + ',' + (c & 255) + ')' : rgb256(c));

  // View: a Screen drawn into el (a div per row inside .vt-scrollback and
  // .vt-screen), redrawn on the next animation frame after a change.
  class View {
    constructor(el, screen, maxScrollback) {
      this.el = el; this.s = screen; this.max = maxScrollback || 1000;
      this.back = document.createElement('div'); this.back.className = 'vt-scrollback';
      this.scr = document.createElement('div'); this.scr.className = 'vt-screen';
      el.replaceChildren(this.back, this.scr);
      this.gone = [];
      this.pending = false;
    }
    // scrolledOut: a row that left the top (Screen's onScrollOut), drawn
    // into the scrollback at the next draw (only the last max of a burst).
    scrolledOut(r) {
      this.gone.push(r);
      if (this.gone.length > 2 * this.max) this.gone.splice(0, this.gone.length - this.max);
    }
    schedule() {
      if (this.pending) return;
      this.pending = true;
      requestAnimationFrame(() => { this.pending = false; this.draw(); });
    }
    draw() {
      const s = this.s;
      const stick = this.el.scrollTop + this.el.clientHeight >= this.el.scrollHeight - 4;
      if (this.gone.length) {
        this.back.append(...this.gone.slice(-this.max).map((r) => this.rowEl(r, -1)));
        this.gone = [];
        for (let n = this.back.childElementCount - this.max; n > 0; n--) this.back.firstElementChild.remove();
      }
      const rows = [];
      for (let y = 0; y < s.rows; y++) rows.push(this.rowEl(s.buf[y], y === s.y && s.cursorVisible ? Math.min(s.x, s.cols - 1) : -1));
      this.scr.replaceChildren(...rows);
      this.scr.classList.toggle('vt-alt', s.altActive);
      s.dirty = false;
      if (stick) this.el.scrollTop = this.el.scrollHeight;
    }
    rowEl(r, cx) {
      const d = document.createElement('div');
      d.className = 'vt-row';
      let end = r.length;
      while (end > 0 && r[end - 1].c === ' ' && r[end - 1].bg === DEF && !(r[end - 1].f & (REV | UL))) end--;
      if (cx >= end) end = cx + 1;
      let i = 0;
      while (i < end) {
        const a = r[i];
        // A run of wide characters of the same attributes is a span of its
        // own, two cells (2ch) a character whatever the font's glyphs: its
        // width is fixed and the glyphs spaced to the cells (wideGap); the
        // other runs are cells of the same attributes. (A span a wide
        // character drew a flood of them 13x slower a byte than ASCII.)
        const wide = a.w === 2 && i + 1 < r.length && r[i + 1].c === '';
        let j = i + (wide ? 2 : 1);
        if (i !== cx && wide) {
          while (j + 1 < r.length && j !== cx && r[j].w === 2 && r[j + 1].c === '' && r[j].fg === a.fg && r[j].bg === a.bg && r[j].f === a.f) j += 2;
        } else if (i !== cx) while (j < end && j !== cx && r[j].w !== 2 && r[j].fg === a.fg && r[j].bg === a.bg && r[j].f === a.f) j++;
        let text = '';
        for (let k = i; k < j; k++) text += r[k].c === '' && !(k > 0 && r[k - 1].w === 2) ? ' ' : r[k].c; // an orphaned right half is a blank
        if (a.fg === DEF && a.bg === DEF && !a.f && i !== cx && !wide) d.append(text);
        else {
          const e = this.span(text, a, i === cx);
          if (wide) {
            e.classList.add('vt-w');
            if (j - i > 2) { // one glyph's span is 2ch wide by the class
              e.style.width = (j - i) + 'ch';
              e.style.letterSpacing = this.wideGap() + 'px';
            }
          }
          d.append(e);
        }
        i = j;
      }
      return d;
    }
    // wideGap: the letter spacing that puts the wide glyphs of a run two
    // cells apart, from their width in the terminal's font (measured once,
    // when the element is laid out; 0 until then).
    wideGap() {
      if (this.gap != null) return this.gap;
      const probe = (t) => { const e = document.createElement('span'); e.textContent = t; this.scr.append(e); const w = e.getBoundingClientRect().width; e.remove(); return w; };
      const cells = probe('abcdefgh'), glyphs = probe('中中中中');
      if (!cells) return 0;
      this.gap = (cells - glyphs) / 4;
      return this.gap;
    }
    span(text, a, cursor) {
      const e = document.createElement('span');
      let fg = a.fg, bg = a.bg;
      const cls = [];
      if (a.f & REV) { [fg, bg] = [bg, fg]; cls.push('vt-rev'); }
      if (fg === DEF && (a.f & REV)) cls.push('vt-fdbg'); // reversed default: the default background as text colour
      if (bg === DEF && (a.f & REV)) cls.push('vt-bdfg');
      if (fg >= 0 && fg < 16) cls.push('vt-f' + fg); else if (fg >= 16) e.style.color = colour(fg);
      if (bg >= 0 && bg < 16) cls.push('vt-b' + bg); else if (bg >= 16) e.style.backgroundColor = colour(bg);
      if (a.f & BOLD) cls.push('vt-bold');
      if (a.f & DIM) cls.push('vt-dim');
      if (a.f & ITALIC) cls.push('vt-italic');
      if (a.f & UL) cls.push('vt-ul');
      if (cursor) cls.push('vt-cursor');
      e.className = cls.join(' ');
      e.textContent = text;
      return e;
    }
  }

  window.WasmpodVT = { Screen: Screen, View: View, rgb256: rgb256 };
})();
