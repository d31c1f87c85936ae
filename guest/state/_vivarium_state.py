# TEMPORARY plumbing stand-in; replaced by the real module (branch state).
import os, sys

def restore(ns, path):
    import pickle
    try:
        with open(path, 'rb') as f:
            data = pickle.load(f)
    except Exception as e:
        return {'restored': [], 'failed': {}, 'reset': 'unreadable: ' + type(e).__name__}
    for k, v in data.items():
        ns[k] = pickle.loads(v)
    return {'restored': sorted(data), 'failed': {}, 'reset': None}

def save(ns, path, mode):
    import pickle
    out, bad = {}, {}
    for k, v in list(ns.items()):
        if k.startswith('__'):
            continue
        try:
            out[k] = pickle.dumps(v, 5)
        except Exception as e:
            bad[k] = type(v).__name__
    with open(path + '.tmp', 'wb') as f:
        pickle.dump(out, f, 5)
    os.replace(path + '.tmp', path)
    return {'saved': sorted(out), 'not_persisted': bad}
