"""SimPy model of the kill-switch control plane, transports, faults and agent trees."""
