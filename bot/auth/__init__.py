"""Who the customer is: OTP by SMS or e-mail, portal passwords, the app PIN, the audit log."""
