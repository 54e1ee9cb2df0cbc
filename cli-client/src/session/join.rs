//! Connecting and joining: the hello handshake, then a name from `--name`,
//! the first input line or the person at the terminal, asked again when the
//! server refuses it (and a person is there to answer).

use protocol::{
    ErrorCode, Limits,
    client::{Conn, Dialer, Joined, Welcome},
    validate_name,
};

use super::{Input, Session, Setback};
use crate::{
    command::{self, Command},
    render::Output,
};

impl Session {
    /// Reads the next line as a name. `None` if the input ended.
    async fn ask_name(&mut self) -> Option<String> {
        self.view.update(|v| v.name = None);
        self.ui.emit(Output::Info(
            "Choose a name (1-32 letters, digits, '_' or '-'):".into(),
        ));
        loop {
            match self.input.recv().await {
                None | Some(Input::Eof) => {
                    self.eof = true;
                    return None;
                }
                Some(Input::Line(line)) => {
                    if let Ok(Some(Command::Quit)) = command::parse(&line) {
                        return None;
                    }
                    let name = line.trim();
                    if !name.is_empty() {
                        return Some(name.to_string());
                    }
                }
            }
        }
    }

    /// A name problem: ask again when a person is there, else give up.
    async fn name_refused(&mut self, text: String) -> Result<String, Setback> {
        if !self.ui.is_interactive() {
            return Err(Setback::Fatal(anyhow::anyhow!(text)));
        }
        self.ui.emit(Output::Error {
            code: "name_refused".into(),
            text,
        });
        self.ask_name().await.ok_or(Setback::Quit)
    }

    pub(super) async fn connect_and_join(
        &mut self,
        joined_before: bool,
    ) -> Result<(Conn, Limits, Welcome), Setback> {
        let server = self.opts.server.clone();
        let dialer = Dialer::new(
            server,
            concat!("switchboard-cli/", env!("CARGO_PKG_VERSION")),
        );
        let (mut conn, info) = match dialer.connect().await {
            Ok(ok) => ok,
            // The first time, an unreachable server is the user's problem to
            // fix (wrong address, server not started): say so and stop.
            Err(e) if !joined_before => return Err(Setback::Fatal(e.into())),
            Err(e) => return Err(Setback::Retry(e.to_string())),
        };
        let mut name = match self.name.clone() {
            Some(name) => name,
            None => match self.ask_name().await {
                Some(name) => name,
                None if self.ui.is_interactive() => return Err(Setback::Quit),
                None => {
                    return Err(Setback::Fatal(anyhow::anyhow!(
                        "no name given (use --name, or write it as the first input line)"
                    )));
                }
            },
        };
        loop {
            if let Err(e) = validate_name(&name) {
                name = self
                    .name_refused(format!("invalid name {name:?}: {e}"))
                    .await?;
                continue;
            }
            let joined = dialer.join(&mut conn, &name, None).await;
            match joined {
                Ok(Joined::Welcome(welcome)) => {
                    self.name = Some(welcome.name.clone());
                    return Ok((conn, info.limits, welcome));
                }
                Ok(Joined::Refused { message, .. }) if joined_before => {
                    // Usually our old session, not yet timed out: wait.
                    return Err(Setback::Retry(message));
                }
                Ok(Joined::Refused { code, message }) => {
                    let text = match code {
                        ErrorCode::NameTaken => format!("the name {name:?} is taken: {message}"),
                        ErrorCode::NameInvalid => format!("invalid name {name:?}: {message}"),
                        _ => format!("cannot join as {name:?}: {message}"),
                    };
                    name = self.name_refused(text).await?;
                }
                Err(e) if !joined_before => return Err(Setback::Fatal(e.into())),
                Err(e) => return Err(Setback::Retry(e.to_string())),
            }
        }
    }
}
