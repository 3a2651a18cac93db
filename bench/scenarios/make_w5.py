#!/usr/bin/env python3
"""Writes w5_many_patterns.tern: 100 distinct card-fraud patterns for W5.

Pattern 1 is W1's own pattern, so `take = 1` in the sweep is W1's cost. The other
99 are variants a fraud team would plausibly run side by side: the same ideas
with different thresholds, windows, merchants and skip strategies. They share
many conditions (`amount < 2`, `type == "auth"`, ...), which is what condition
sharing across patterns can exploit. Their start conditions are about as
selective as W1's (at most ~2 % of events), so each pattern holds a few thousand
partial matches, like W1: the sweep measures per-pattern cost, not one
pattern's outsized state. Deterministic: no randomness.

Run: python3 bench/scenarios/make_w5.py > bench/scenarios/w5_many_patterns.tern
"""
import itertools

HEADER = """\
# W5: 100 patterns on one card-transaction stream (written by make_w5.py; do
# not edit by hand). Pattern 1 is W1's pattern; the rest are variants with
# different thresholds, windows, merchants and skip strategies.
"""


def tiny_then_large(i, small, large, window):
    return f"""pattern p{i:03d}_tiny_then_large_{str(small).replace('.', '_')}_{large}_{window} {{
  key    card_id
  within {window}
  begin       a where amount < {small}
  followed_by b where amount > {large}
}}
"""


def card_testing(i, probes, small, large, window):
    return f"""pattern p{i:03d}_card_testing_{probes}_{large}_{window} {{
  key    card_id
  within {window}
  skip   past_last_event
  begin       small where type == "auth" and amount < {small} times {probes}.. greedy
  followed_by big   where type == "auth" and amount >= {large}
                      and merchant != last(small).merchant
  emit {{ card = card_id  probes = count(small)  big_amount = big.amount }}
}}
"""


def refund_after_large(i, large, window):
    return f"""pattern p{i:03d}_refund_after_large_{large}_{window} {{
  key    card_id
  within {window}
  begin       buy    where type == "auth" and amount > {large}
  followed_by refund where type == "refund" and merchant == buy.merchant
  emit {{ card = card_id  merchant = buy.merchant  amount = buy.amount }}
}}
"""


def decline_then_retry(i, floor, window):
    return f"""pattern p{i:03d}_decline_then_retry_{floor}_{window} {{
  key    card_id
  within {window}
  skip   past_last_event
  begin       declined where type == "decline" and amount > {floor}
  followed_by retry    where type == "auth" and amount >= declined.amount
  emit {{ card = card_id  declined = declined.amount  retried = retry.amount }}
}}
"""


def watchlist(i, merchants, floor, window):
    listed = ", ".join(f'"m{m:04d}"' for m in merchants)
    return f"""pattern p{i:03d}_watchlist_{merchants[0]:04d}_{floor}_{window} {{
  key    card_id
  within {window}
  begin       risky where merchant in [{listed}]
  followed_by big   where type == "auth" and amount > {floor}
  emit {{ card = card_id  risky_merchant = risky.merchant  amount = big.amount }}
}}
"""


def large_burst(i, floor, count, window):
    return f"""pattern p{i:03d}_large_burst_{floor}_{count}_{window} {{
  key    card_id
  within {window}
  skip   past_last_event
  begin  big where type == "auth" and amount > {floor} times {count}
  emit {{ card = card_id  total = sum(big.amount) }}
}}
"""


def main():
    families = [
        [lambda i, a=a: tiny_then_large(i, *a)
         for a in itertools.product([0.5, 1, 1.5, 2], [500, 750, 1000, 2000], ["5m", "10m", "30m"])
         if a != (2, 500, "10m")],
        [lambda i, a=a: card_testing(i, *a)
         for a in itertools.product([3, 4, 2], [2, 1], [500, 1000], ["10m", "30m"])],
        [lambda i, a=a: refund_after_large(i, *a)
         for a in itertools.product([500, 1000, 2000], ["10m", "1h"])],
        [lambda i, a=a: decline_then_retry(i, *a)
         for a in itertools.product([100, 200, 300, 400], ["5m", "15m"])],
        [lambda i, a=(m, f, w): watchlist(i, [a[0], a[0] + 7, a[0] + 31, a[0] + 97], a[1], a[2])
         for m, f, w in zip(range(1, 200, 13), itertools.cycle([200, 300, 400]),
                            itertools.cycle(["10m", "30m"]))],
        [lambda i, a=a: large_burst(i, *a)
         for a in itertools.product([500, 1000, 2000], [2, 3], ["10m", "1h"])],
    ]
    # W1's pattern first, then the families round-robin so any prefix is a mix.
    out = [HEADER, """pattern p000_w1 {
  key    card_id
  within 10m
  begin       a where amount < 2
  followed_by b where amount > 500
}
"""]
    iters = [iter(f) for f in families]
    i = 1
    while i < 100:
        progressed = False
        for it in iters:
            make = next(it, None)
            if make is None:
                continue
            progressed = True
            out.append(make(i))
            i += 1
            if i == 100:
                break
        if not progressed:
            raise SystemExit("not enough variants")
    print("\n".join(out), end="")


if __name__ == "__main__":
    main()
