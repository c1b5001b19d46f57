"""A complete example processing register for simulated fleets and the demo (synthetic company).

Every Art. 15 answer the access package needs is set, for every category detection reports, and the AI
vendor is named as a processor with its country and the safeguard for the transfer. `dsr.example.toml`
carries the same register.
"""

from __future__ import annotations

EXAMPLE_REGISTER = """\
# The processing register: every Art. 15(1)(a)-(h) and 15(2) answer comes from here (nothing is assumed).
[register]
automated_decisions = "We make no decisions about you based solely on automated processing, including profiling."
transfers = "AI assistant conversations go to Anthropic PBC (United States) under the UK Addendum to the EU SCCs."
complete_by = "2027-01-31"

[[register.processors]]
name = "Anthropic PBC"
role = "AI assistant provider (processor): runs the assistant and keeps cloud copies of conversations"
country = "United States"
safeguard = "UK International Data Transfer Addendum to the EU standard contractual clauses (Art. 46(2)(c))"

[[register.processors]]
name = "Example Backup Ltd"
role = "Backup hosting (processor)"
country = "United Kingdom"

[register.categories.contact_details]
title = "Contact details"
purposes = ["Answering your enquiries", "Working with you on joint projects"]
legal_basis = "Legitimate interests (Art. 6(1)(f)): running our business with customers and partners"
recipients = ["Anthropic PBC (AI assistant provider, processor)", "Example Backup Ltd (backup hosting, processor)"]
retention = "Kept with the conversation: 18 months after its last activity"
source = "You, or colleagues who wrote to you or about you"
transfers = "United States (Anthropic PBC): UK Addendum to the EU standard contractual clauses"

[register.categories.identifiers]
title = "Identifiers (user ids, account numbers)"
purposes = ["Support and account administration"]
legal_basis = "Contract (Art. 6(1)(b))"
recipients = ["Anthropic PBC (AI assistant provider, processor)"]
retention = "18 months after the conversation's last activity"
source = "Our customer and staff systems"
transfers = "United States (Anthropic PBC): UK Addendum to the EU standard contractual clauses"

[register.categories.financial]
title = "Financial details"
purposes = ["Invoicing and payments"]
legal_basis = "Legal obligation (Art. 6(1)(c)): accounting records"
recipients = ["Example Accountants LLP (auditor)"]
retention = "Six years after the end of the financial year"
source = "You, or our finance systems"

[register.categories.location]
title = "Addresses and places"
purposes = ["Deliveries and visits"]
legal_basis = "Contract (Art. 6(1)(b))"
recipients = ["Anthropic PBC (AI assistant provider, processor)"]
retention = "18 months after the conversation's last activity"
source = "You, or colleagues who wrote to you"

[register.categories.health]
title = "Health information"
purposes = ["Managing absence and workplace adjustments"]
legal_basis = "Employment law (Art. 6(1)(c) and Art. 9(2)(b))"
recipients = []
retention = "Six years after employment ends"
source = "You, or your line manager"

[register.categories.free_text_mentions]
title = "Mentions in conversations with AI assistants"
purposes = ["Staff productivity: drafting, analysis and coding with AI assistants"]
legal_basis = "Legitimate interests (Art. 6(1)(f))"
recipients = ["Anthropic PBC (AI assistant provider, processor)"]
retention = "18 months after the conversation's last activity; memory notes until reviewed yearly"
source = "Our staff, from documents and e-mails they worked on"
transfers = "United States (Anthropic PBC): UK Addendum to the EU standard contractual clauses"
"""
