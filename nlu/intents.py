"""The intents the classifier knows, one line each (issue 8).

The services are those of the EVNCPC app; nlu/data/nlu.yml has an example block
for each name here, and tests check that the two agree.
"""

from __future__ import annotations

INTENTS: dict[str, str] = {
    "greet": "a hello: chào, alo, hi",
    "goodbye": "leaving the conversation: tạm biệt, bye",
    "thanks": "thanking: cảm ơn, tks",
    "affirm": "yes to a question: đúng rồi, vâng, ok",
    "deny": "no to a question: không, sai rồi",
    "help": "what the bot can do, how to use it",
    "login": "signing in, OTP, a forgotten sign-in password",
    "lookup_meter_schedule": "when the meter is read (lịch ghi chỉ số)",
    "lookup_payment_points": "where to pay in person (điểm thu tiền điện)",
    "lookup_outage_schedule": "planned outages (lịch cắt điện, lịch cúp điện)",
    "lookup_consumption": "kWh used, meter readings (sản lượng, chỉ số)",
    "lookup_payment_info": "debt and how much the bill is (nợ, tiền điện bao nhiêu)",
    "lookup_invoice": "the invoice document: view, download, e-invoice (hóa đơn)",
    "explain_bill": "why a bill is high or changed (sao tiền điện tăng, cao thế)",
    "pay_bill": "paying a bill now, or a payment that failed",
    "estimate_bill": "the tariff and what a number of kWh costs",
    "report_outage": "the power is off now (mất điện, cúp điện)",
    "ask_power_back": "when the power comes back (khi nào có điện lại)",
    "track_request": "the progress of a service request already sent",
    "svc_new_connection": "a new connection (cấp điện mới)",
    "svc_change_info": "changing registered details: phone, email, name, address",
    "svc_change_capacity": "changing capacity or the meter type (1 pha -> 3 pha)",
    "svc_move_meter": "moving the meter or other metering equipment",
    "svc_check_meter": "checking a meter thought faulty (kiểm tra công tơ)",
    "svc_change_purpose": "changing the purpose of use (sinh hoạt -> kinh doanh)",
    "svc_change_quota": "changing the quota, households sharing a meter (định mức)",
    "svc_renew_contract": "renewing the contract (gia hạn hợp đồng)",
    "svc_terminate_contract": "ending the contract (chấm dứt, thanh lý hợp đồng)",
    "svc_reconnect": "reconnection after a suspension or a debt cut-off",
    "svc_change_payment_method": "changing how bills are paid: auto-debit, bank, cash",
    "svc_change_owner": "changing the contract holder (đổi chủ thể hợp đồng)",
    "consult_usage": "advice on using electricity: saving, safety, peak hours",
    "consult_design": "design, acceptance and maintenance of electrical works",
    "complaint": "complaints and feedback (khiếu nại, kiến nghị)",
    "set_password": "the app password or PIN of the settings tab",
    "talk_to_human": "a human agent, the hotline",
    "out_of_scope": "anything else: weather, jokes, unrelated questions",
}
