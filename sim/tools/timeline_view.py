#!/usr/bin/env python3
"""timeline_view.py - load protsim --timeline files into a real trace viewer.

`make timeline-check` runs it (docs/outputs.md "Checking a timeline in a
viewer").  Debian's Chromium has no chrome://tracing any more and no
Perfetto UI is installed offline, so the viewer is speedscope (its
release build from npm), a web app whose importer reads the Chrome
trace-event format: each file is loaded into it in headless Chromium,
driven over the DevTools protocol on a pipe (--remote-debugging-pipe: no
port, no network).  For each file it checks that speedscope

  - imported it as a trace-event profile (its console says so),
  - printed no warning or error (speedscope warns about every span that
    does not nest, an end before its begin, a span left open),
  - shows one profile per track that has spans, named after the track
    ("protsim machine (pid 1), cpu0 (tid 0)"), as the file's
    thread_name events name them.

Usage: timeline_view.py SPEEDSCOPE_INDEX_HTML FILE.json...
(TIMELINE_SHOTS=DIR: also a screenshot of each, DIR/FILE.json.png.)
Exit: 0 all loaded cleanly, 1 a check failed, 2 the browser or the page
could not be driven.
"""
import base64
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time


class Browser:
    """Headless Chromium with the DevTools protocol on fds 3 and 4."""

    def __init__(self, binary):
        self.dir = tempfile.mkdtemp(prefix='protsim-viewer-')
        # a fresh profile; internal pages on (harmless; no chrome://tracing either way)
        with open(os.path.join(self.dir, 'Local State'), 'w') as f:
            json.dump({'internal_only_uis_enabled': True}, f)
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()

        def child():
            a, b = os.dup(to_r), os.dup(from_w)   # above 4, then onto 3 and 4
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.err = open(os.path.join(self.dir, 'chromium.log'), 'w')
        self.proc = subprocess.Popen(
            [binary, '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic',
             '--no-first-run', '--disable-background-networking',
             '--disable-component-update', '--disable-sync',
             '--user-data-dir=' + os.path.join(self.dir, 'profile'),
             '--remote-debugging-pipe', 'about:blank'],
            preexec_fn=child, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=self.err)
        os.close(to_r)
        os.close(from_w)
        self.w, self.r = to_w, from_r
        self.buf = b''
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None, timeout=60):
        self.next_id += 1
        msg = {'id': self.next_id, 'method': method, 'params': params or {}}
        if session:
            msg['sessionId'] = session
        os.write(self.w, json.dumps(msg).encode() + b'\0')
        end = time.time() + timeout
        while True:
            while b'\0' not in self.buf:
                if time.time() > end:
                    raise TimeoutError(method)
                if select.select([self.r], [], [], 1)[0]:
                    chunk = os.read(self.r, 1 << 20)
                    if not chunk:
                        raise EOFError('chromium closed its DevTools pipe (see %s)' %
                                       self.err.name)
                    self.buf += chunk
            line, self.buf = self.buf.split(b'\0', 1)
            m = json.loads(line)
            if m.get('id') == self.next_id:
                if 'error' in m:
                    raise RuntimeError('%s: %s' % (method, m['error']))
                return m['result']
            self.events.append(m)

    def close(self):
        try:
            self.send('Browser.close', timeout=10)
        except Exception:
            self.proc.kill()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def tracks_with_spans(path):
    """{tid: name} of the tracks that have spans (speedscope makes a profile of each)."""
    d = json.load(open(path))
    names = {e['tid']: e['args']['name'] for e in d['traceEvents']
             if e['ph'] == 'M' and e['name'] == 'thread_name'}
    return {t: names[t] for t in {e['tid'] for e in d['traceEvents'] if e['ph'] == 'X'}}


def check(b, index, path):
    """Load @path into speedscope in a new tab; return a list of problems."""
    problems = []
    want = tracks_with_spans(path)
    js = os.path.join(b.dir, 'profile-%d.js' % b.next_id)
    with open(js, 'w') as f:   # what speedscope's own command line does
        f.write('speedscope.loadFileFromBase64(%s, %s)' % (
            json.dumps(os.path.basename(path)),
            json.dumps(base64.b64encode(open(path, 'rb').read()).decode())))
    target = b.send('Target.createTarget', {'url': 'about:blank'})['targetId']
    s = b.send('Target.attachToTarget', {'targetId': target, 'flatten': True})['sessionId']
    b.events = []
    b.send('Runtime.enable', {}, s)
    b.send('Page.enable', {}, s)
    b.send('Page.navigate', {'url': 'file://' + os.path.abspath(index) +
                             '#localProfilePath=' + js}, s)

    def ev(expr):
        r = b.send('Runtime.evaluate', {'expression': expr, 'returnByValue': True}, s)
        return r['result'].get('value')

    label = re.compile(r'protsim machine \(pid 1\), (.+?) \(tid (\d+)\)')
    seen = {}
    for _ in range(60):   # the import: up to 30 s
        time.sleep(0.5)
        m = label.search(ev('document.body ? document.body.innerText : ""') or '')
        if m:
            break
    else:
        problems.append('no profile shown (title %r)' % ev('document.title'))
    title = ev('document.title')
    if title != os.path.basename(path) + ' - speedscope':
        problems.append('title %r' % title)
    shots = os.environ.get('TIMELINE_SHOTS')
    if shots:   # a picture of the first profile, as the viewer draws it
        os.makedirs(shots, exist_ok=True)
        b.send('Emulation.setDeviceMetricsOverride',
               {'width': 1400, 'height': 700, 'deviceScaleFactor': 1, 'mobile': False}, s)
        time.sleep(1)
        png = b.send('Page.captureScreenshot', {'format': 'png'}, s)['data']
        with open(os.path.join(shots, os.path.basename(path) + '.png'), 'wb') as f:
            f.write(base64.b64decode(png))
    for _ in range(max(len(want), 1)):   # every profile: key n shows the next one
        m = label.search(ev('document.body.innerText') or '')
        if m:
            seen[int(m.group(2))] = m.group(1)
        b.send('Input.dispatchKeyEvent', {'type': 'keyDown', 'key': 'n', 'text': 'n'}, s)
        b.send('Input.dispatchKeyEvent', {'type': 'keyUp', 'key': 'n'}, s)
        time.sleep(0.3)
    if seen != want:
        problems.append('profiles %s, the file has tracks with spans %s' % (seen, want))
    imported = False
    for m in b.events:
        if m.get('method') == 'Runtime.exceptionThrown':
            problems.append('exception: %s' % m['params']['exceptionDetails'].get('text'))
        if m.get('method') != 'Runtime.consoleAPICalled':
            continue
        text = ' '.join(str(a.get('value', '')) for a in m['params']['args'])
        if 'Importing as Trace Event Format' in text:
            imported = True
        if m['params']['type'] in ('warning', 'error', 'assert'):
            problems.append('%s: %s' % (m['params']['type'], text[:200]))
    if not imported:
        problems.append('not imported as a trace-event profile')
    b.send('Target.closeTarget', {'targetId': target})
    return problems, want


def main():
    if len(sys.argv) < 3:
        print('usage: timeline_view.py SPEEDSCOPE_INDEX_HTML FILE.json...', file=sys.stderr)
        return 2
    index, files = sys.argv[1], sys.argv[2:]
    binary = os.environ.get('CHROMIUM') or (
        '/usr/lib/chromium/chromium' if os.path.exists('/usr/lib/chromium/chromium')
        else shutil.which('chromium') or 'chromium')
    if not os.path.exists(index):
        print('timeline_view: %s: no speedscope here' % index, file=sys.stderr)
        return 2
    b = Browser(binary)
    failed = 0
    try:
        for path in files:
            problems, want = check(b, index, path)
            if problems:
                failed += 1
                print('FAIL %s:' % path)
                for p in problems[:10]:
                    print('  ' + p)
            else:
                print('ok   %s: speedscope imported it, %d profiles (%s), no warning' % (
                    path, len(want), ', '.join(want[t] for t in sorted(want))))
    except (OSError, EOFError, TimeoutError, RuntimeError) as e:
        print('timeline_view: %s' % e, file=sys.stderr)
        return 2
    finally:
        b.close()
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
