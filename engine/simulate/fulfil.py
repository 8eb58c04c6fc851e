"""Fulfilment: realised orders meet the forward stock.

Orders are taken in the order they were placed. Each goes to the nearest forward warehouse
that covers its zone on the instant tier, may hold the SKU, and still has the units; that
warehouse's stock is decremented. An order no forward warehouse can fill is served from the
central DC on the slow promise. The result is the allocated order table that dispatch routes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.instance import Instance

ALLOCATED_COLUMNS = (
    "id", "created_min", "ready_min", "due_min", "sku", "quantity", "size_m3", "lat", "lon", "zone",
    "segment", "weight", "special", "fragile", "high_value", "unit_value", "source", "warehouse", "promise_min",
)


def allocate_orders(instance: Instance, orders: pd.DataFrame, stock: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Allocate ``orders`` (rows of ``instance.orders``) against ``stock`` (sku, warehouse, units).

    Returns the allocated orders (columns :data:`ALLOCATED_COLUMNS`; ``source`` is "forward" or
    "central") and the stock left per (sku, warehouse).
    """
    m = instance.manifest
    fw = instance.forward_warehouses
    w_ids = fw["id"].to_numpy()
    s_ids = instance.skus["id"].to_numpy()
    s_pos = {s: i for i, s in enumerate(s_ids)}
    w_pos = {w: i for i, w in enumerate(w_ids)}
    units = np.zeros((len(s_ids), len(w_ids)), dtype=np.int64)
    if len(stock):
        si = stock["sku"].map(s_pos).to_numpy()
        wi = stock["warehouse"].map(w_pos).to_numpy()
        np.add.at(units, (si, wi), stock["units"].to_numpy(dtype=np.int64))
    start_units = units.copy()

    orders = orders.sort_values(["created_min", "id"], kind="stable").reset_index(drop=True)
    cover = instance.coverage().reindex(index=w_ids, columns=instance.zones["id"]).to_numpy()
    z_pos = {z: i for i, z in enumerate(instance.zones["id"])}
    skus = instance.skus.set_index("id")
    allows_hv = fw["allows_high_value"].to_numpy(dtype=bool)
    km = instance.travel_model().km(orders["lat"], orders["lon"], fw["lat"], fw["lon"])  # (N, W)

    o_sku = orders["sku"].map(s_pos).to_numpy()
    o_zone = orders["zone"].map(z_pos).to_numpy()
    o_qty = orders["quantity"].to_numpy(dtype=np.int64)
    hv = skus["high_value"].to_numpy(dtype=bool)[o_sku]
    chosen = np.full(len(orders), -1)
    for i in range(len(orders)):  # sequential by nature: each order depletes stock for the next
        ok = cover[:, o_zone[i]] & (units[o_sku[i]] >= o_qty[i])
        if hv[i]:
            ok &= allows_hv
        if ok.any():
            w = int(np.argmin(np.where(ok, km[i], np.inf)))
            units[o_sku[i], w] -= o_qty[i]
            chosen[i] = w

    seg = {s.id: s for s in m.segments}
    forward = chosen >= 0
    promise = np.where(forward, orders["segment"].map(lambda s: seg[s].promise_min).to_numpy(dtype=float),
                       m.slow_tier.max_min)
    created = orders["created_min"].to_numpy(dtype=float)
    out = pd.DataFrame({
        "id": orders["id"].to_numpy(),
        "created_min": created,
        "ready_min": created + np.where(forward, m.planning.picking_min, 0.0),
        "due_min": created + promise,
        "sku": orders["sku"].to_numpy(),
        "quantity": o_qty,
        "size_m3": skus["unit_volume_m3"].to_numpy()[o_sku] * o_qty,
        "lat": orders["lat"].to_numpy(dtype=float),
        "lon": orders["lon"].to_numpy(dtype=float),
        "zone": orders["zone"].to_numpy(),
        "segment": orders["segment"].to_numpy(),
        "weight": orders["segment"].map(lambda s: seg[s].weight).to_numpy(dtype=float),
        "special": skus["fragile"].to_numpy(dtype=bool)[o_sku] | hv,
        "fragile": skus["fragile"].to_numpy(dtype=bool)[o_sku],
        "high_value": hv,
        "unit_value": skus["unit_value"].to_numpy(dtype=float)[o_sku],
        "source": np.where(forward, "forward", "central"),
        "warehouse": np.where(forward, w_ids[np.maximum(chosen, 0)], instance.central["id"]),
        "promise_min": promise,
    })
    left = pd.DataFrame({
        "sku": np.repeat(s_ids, len(w_ids)),
        "warehouse": np.tile(w_ids, len(s_ids)),
        "start_units": start_units.ravel(),
        "units_left": units.ravel(),
    })
    left = left[left["start_units"] > 0].reset_index(drop=True)
    return out, left
