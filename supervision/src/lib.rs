//! Erlang/OTP-style supervision on ractor. Generic: knows nothing of Gas Town.
