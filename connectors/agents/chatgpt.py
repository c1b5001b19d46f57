"""ChatGPT desktop: encrypted conversation folders on macOS (key in the login Keychain), an undocumented cache
in the Windows Store package. Never opened; deleted whole only; vendor request for the server copies.
Plaintext `conversations-<uuid>` folders of old macOS builds are read as files.
"""

from __future__ import annotations

from connectors.agents.base import AgentLayout, Erase, Root, rule
from connectors.records import RecordFormat as F

MAC_RULES = (
    rule(r"conversations-v\d+-[^/]+/.+", "encrypted_store", F.NONE, Erase.WHOLE_ONLY),
    rule(r"conversations-(?!v\d+-)[^/]+/(?P<sid>[^/]+?)(?:\.data|\.json)?", "transcript", None, Erase.WHOLE_ONLY),
)
WIN_RULES = (rule(r"(?:LocalCache|LocalState)/.+", "encrypted_store", F.NONE, Erase.WHOLE_ONLY),)

LAYOUT = AgentLayout(
    app="chatgpt-desktop",
    title="ChatGPT desktop",
    roots=(
        Root("Library/Application Support/com.openai.chat", ("macos",), MAC_RULES),
        Root("AppData/Local/Packages/OpenAI.ChatGPT*", ("windows",), WIN_RULES),
    ),
    processes=("ChatGPT", "ChatGPT.exe"),
    encrypted=True,
)
