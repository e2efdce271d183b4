"""RFC 3261 section 17 transactions (with RFC 6026), sans-I/O.

One module per machine, each with one state enum and one transition table:

* :mod:`~websip.transaction.ict`: INVITE client transaction (17.1.1, RFC 6026 7.2)
* :mod:`~websip.transaction.nict`: non-INVITE client transaction (17.1.2)
* :mod:`~websip.transaction.ist`: INVITE server transaction (17.2.1, RFC 6026 7.1)
* :mod:`~websip.transaction.nist`: non-INVITE server transaction (17.2.2)
* :mod:`~websip.transaction.retransmit`: the UAS 2xx retransmission (13.3.1.4)
* :mod:`~websip.transaction.timers`: T1, T2, T4 and Timers A to M
* :mod:`~websip.transaction.layer`: the machines together: matching (17.1.3,
  17.2.3), the ACK of non-2xx responses, CANCEL, branches, one timer
* :mod:`~websip.transaction.diagram`: Graphviz diagrams drawn from the tables

The machines take time as ``now`` (monotonic seconds), report their earliest
deadline with ``get_timer()`` and fire due timers with ``handle_timer(now)``.
They return lists of the typed outputs of :mod:`~websip.transaction.events`.
"""

from __future__ import annotations

from websip.transaction.events import (
    ClientOutput,
    InputDiscarded,
    NoAckReceived,
    PassRequestToTU,
    PassResponseToTU,
    SendAck,
    SendRequest,
    SendResponse,
    ServerOutput,
    TransactionOutput,
    TransactionTerminated,
    TransactionTimedOut,
    TransportErrorOccurred,
)
from websip.transaction.ict import ClientInviteTransaction
from websip.transaction.ist import ServerInviteTransaction
from websip.transaction.layer import (
    ClientTransactionKey,
    FailureReason,
    LayerEvent,
    LegacyServerTransactionKey,
    MessageDiscarded,
    RequestReceived,
    ResponseReceived,
    SendMessage,
    ServerKey,
    ServerTransactionKey,
    TransactionEnded,
    TransactionFailed,
    TransactionKey,
    TransactionLayer,
    build_ack,
    build_cancel,
)
from websip.transaction.nict import ClientNonInviteTransaction
from websip.transaction.nist import ServerNonInviteTransaction
from websip.transaction.retransmit import TwoHundredRetransmitter
from websip.transaction.timers import TimerName, TimerValues

__all__ = [
    "ClientInviteTransaction",
    "ClientNonInviteTransaction",
    "ClientOutput",
    "ClientTransactionKey",
    "FailureReason",
    "InputDiscarded",
    "LayerEvent",
    "LegacyServerTransactionKey",
    "MessageDiscarded",
    "NoAckReceived",
    "PassRequestToTU",
    "PassResponseToTU",
    "RequestReceived",
    "ResponseReceived",
    "SendAck",
    "SendMessage",
    "SendRequest",
    "SendResponse",
    "ServerInviteTransaction",
    "ServerKey",
    "ServerNonInviteTransaction",
    "ServerOutput",
    "ServerTransactionKey",
    "TimerName",
    "TimerValues",
    "TransactionEnded",
    "TransactionFailed",
    "TransactionKey",
    "TransactionLayer",
    "TransactionOutput",
    "TransactionTerminated",
    "TransactionTimedOut",
    "TransportErrorOccurred",
    "TwoHundredRetransmitter",
    "build_ack",
    "build_cancel",
]
