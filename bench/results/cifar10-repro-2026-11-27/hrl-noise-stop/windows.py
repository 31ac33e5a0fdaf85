"""Window means of the training logs that this folder's README quotes (python3, stdlib only).

Run from this folder: python3 windows.py. For each run: mean training loss, batch accuracy and
sampled execution rate over windows of HRL steps (global step = 300 + HRL step), and the first
logged steps at which the mean execution rate fell under 0.8 and 0.5 (the gates' cascade).
The plain ResNet-38 of seed 0 is shifted by the 300 SP steps so its windows cover the same
global steps; the SP starts are compared with it over their steps 251-300.
"""
import json
import statistics as st

def train_rows(path):
    # some copied logs are the CLI's --json stdout, whose text summary follows the JSON lines
    records = (json.loads(line) for line in open(path) if line.startswith('{'))
    return {r['step']: r for r in records if r.get('type') == 'train'}

def window(rows, lo, hi, key, shift=0):
    xs = [s for s in rows if lo < s - shift <= hi]
    vals = [st.mean(rows[s][key]) if key == 'gateExecRates' else rows[s][key] for s in xs]
    return f'{st.mean(vals):.3f}' if vals else '-'

def first_under(rows, th):
    return next((s for s in sorted(rows) if st.mean(rows[s]['gateExecRates']) < th), None)

HRL = {
    'fifteenth try, shift 2.2': '../hrl-early-decision/a05-r0.85-seed0.jsonl',
    'shift 3': 'hrl-shift3-sp300-open-seed0.jsonl',
    'lr warm-up start, shift 2.2': 'hrl-shift2.2-sp300-open-wu50-seed0.jsonl',
    'lr warm-up start, shift 3': 'hrl-shift3-sp300-open-wu50-seed0.jsonl',
    'twelfth try, shift 2.2, no logit bound': '../hrl-seeds/t0.7-down0.5-shift2.2-seed0.jsonl',
}
WINDOWS = [(0, 100), (100, 200), (200, 300), (300, 500), (500, 700)]
plain = train_rows('../hrl-early-decision/resnet38-seed0.jsonl')
print('HRL steps       ' + '  '.join(f'{lo + 1}-{hi}: loss / exec' for lo, hi in WINDOWS))
print(f'{"plain ResNet-38 (global steps +300)":40s}', '  '.join(f'{window(plain, lo, hi, "loss", 300):>5s}' for lo, hi in WINDOWS))
for name, path in HRL.items():
    rows = train_rows(path)
    cells = [f'{window(rows, lo, hi, "loss")} / {window(rows, lo, hi, "gateExecRates")}' for lo, hi in WINDOWS]
    print(f'{name:40s}', '  '.join(cells), f' exec<0.8 at {first_under(rows, 0.8)}, <0.5 at {first_under(rows, 0.5)}')
print('SP starts, steps 251-300: loss / batch accuracy')
for name, path in {
    'plain ResNet-38': '../hrl-early-decision/resnet38-seed0.jsonl',
    'gates open (twelfth try)': '../hrl-seeds/sp300-open-seed0.jsonl',
    'gates open, lr warm-up 50': 'sp300-open-wu50-seed0.jsonl',
    'gates open, gatesReadDetached': 'sp300-open-det-seed0.jsonl',
}.items():
    rows = train_rows(path)
    print(f'{name:40s}', window(rows, 250, 300, 'loss'), window(rows, 250, 300, 'acc'))
