"""Local fakes of the voice providers' own protocols, for tests, the demo and the bench.

Each fake is a real HTTP/websocket server on 127.0.0.1 and a free port, so the real plugins
talk to it over their real protocol (only the base URL differs):

* :class:`FakeLLM`: OpenAI chat completions (``livekit-plugins-openai``),
* :class:`FakeDeepgram`: Deepgram live transcription (``livekit-plugins-deepgram``),
* :class:`FakeCartesia`: Cartesia TTS websocket and bytes endpoints
  (``livekit-plugins-cartesia``).

Each takes a config of delays, scripted replies and faults (``devtools.fakes.config``) and
records what it served (:class:`Served`) so tests can check the delays they injected.
``python -m devtools.fakes`` runs all three for a demo and prints their base URLs.
"""

from devtools.fakes._server import LoopbackServer, Mark, Served
from devtools.fakes.config import (
    FaultPlan,
    LLMConfig,
    LLMFault,
    STTConfig,
    STTFault,
    ToolCall,
    TTSConfig,
    TTSFault,
)
from devtools.fakes.llm import FakeLLM
from devtools.fakes.stt import FakeDeepgram
from devtools.fakes.tts import FakeCartesia

__all__ = [
    "FakeLLM",
    "FakeDeepgram",
    "FakeCartesia",
    "LLMConfig",
    "STTConfig",
    "TTSConfig",
    "FaultPlan",
    "LLMFault",
    "STTFault",
    "TTSFault",
    "ToolCall",
    "LoopbackServer",
    "Mark",
    "Served",
]
