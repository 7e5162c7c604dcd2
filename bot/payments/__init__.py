"""Payments: VietQR payloads, the VNPay gateway, reconciliation."""
