"""The product's flows, one module each (kiosk: Flow A), over what they share (common)."""
