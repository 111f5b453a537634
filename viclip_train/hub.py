# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Publishing output folders to the Hugging Face Hub: one home for the scripts and the converter.

- [`check_hub_write_access`] runs before any training or conversion when `--push_to_hub` is set: it fails in one
  line when the Hub cannot be reached, when there is no valid token, or when the token cannot write to the repository
  (a read token, a fine-grained token without write access to the namespace, an organisation the user is not in).
- [`publish_folder`] uploads a folder exactly as it is (model, processor, remote code, card), leaving out
  intermediate `checkpoint-*` folders, logs and pickles.
"""

from pathlib import Path
from typing import Any


DEFAULT_IGNORE_PATTERNS: tuple[str, ...] = (
    "checkpoint-*",
    "checkpoint-*/**",
    ".saving-checkpoint-*/**",
    ".incomplete-*/**",
    "runs/**",
    "skipped_samples.rank*.jsonl",
    "*.pt",
    "*.pth",
)
"""What [`publish_folder`] leaves out by default: checkpoints (complete or not), TensorBoard logs, skip records and
pickles (optimizer states, original checkpoints)."""


class HubAccessError(RuntimeError):
    """The Hub cannot be reached, or the token cannot write to the repository."""


def _namespace(repo_id: str, user: str) -> str:
    return repo_id.split("/", 1)[0] if "/" in repo_id else user


def _can_write(token_info: dict[str, Any], namespace: str, repo_id: str) -> bool | None:
    """Whether the access token described by `whoami()["auth"]["accessToken"]` can write to the repository:
    `True`/`False`, or `None` when the answer's shape is unknown (the check then lets the upload decide)."""
    role = token_info.get("role")
    if role == "write":
        return True
    if role == "read":
        return False
    if role != "fineGrained":
        return None
    fine_grained = token_info.get("fineGrained") or {}
    for scope in fine_grained.get("scoped", []):
        entity = scope.get("entity", {})
        if entity.get("name") in (namespace, repo_id) and "repo.write" in scope.get("permissions", []):
            return True
    return False


def check_hub_write_access(repo_id: str, token: str | None = None) -> str:
    """
    Checks, without writing anything, that the Hub is reachable and that `token` (or the saved login) can write to
    the model repository `repo_id` (`"user/name"`, `"org/name"`, or `"name"` in the user's namespace).

    Returns:
        `str`: the user name the token belongs to.

    Raises:
        [`HubAccessError`]: in one line, saying what is wrong and how to fix it.
    """
    import huggingface_hub

    try:
        info = huggingface_hub.HfApi(token=token).whoami()
    except Exception as error:  # offline, no token, invalid token, network: all end the same way
        reason = " ".join(str(error).split())[:300]
        raise HubAccessError(
            f"--push_to_hub {repo_id}: cannot reach the Hub with a valid token ({type(error).__name__}: {reason}). "
            "Log in with `hf auth login` or pass --hub_token, check the network (and that HF_HUB_OFFLINE is unset), "
            "or drop --push_to_hub."
        ) from None
    user = info.get("name", "")
    namespace = _namespace(repo_id, user)
    organisations = {org.get("name") for org in info.get("orgs", [])}
    if namespace != user and namespace not in organisations:
        raise HubAccessError(
            f"--push_to_hub {repo_id}: the token belongs to {user!r}, who is not a member of {namespace!r}; "
            f"publish under {user}/... or use a token of that organisation."
        )
    token_info = (info.get("auth") or {}).get("accessToken") or {}
    if _can_write(token_info, namespace, repo_id) is False:
        raise HubAccessError(
            f"--push_to_hub {repo_id}: the token {token_info.get('displayName', '')!r} of {user!r} cannot write to "
            f"{namespace!r} (role {token_info.get('role')!r}); create a token with write access at "
            "https://huggingface.co/settings/tokens."
        )
    return user


def publish_folder(
    folder: str | Path,
    repo_id: str,
    token: str | None = None,
    private: bool | None = None,
    *,
    commit_message: str = "Upload ViCLIP model",
    ignore_patterns: tuple[str, ...] | list[str] = DEFAULT_IGNORE_PATTERNS,
) -> str:
    """
    Publishes `folder` to the Hub model repository `repo_id` (created if needed) exactly as it is, leaving out
    `ignore_patterns` ([`DEFAULT_IGNORE_PATTERNS`]). Returns the commit URL.
    """
    import huggingface_hub

    api = huggingface_hub.HfApi(token=token)
    api.create_repo(repo_id, repo_type="model", exist_ok=True, private=private)
    commit = api.upload_folder(
        repo_id=repo_id,
        folder_path=str(folder),
        repo_type="model",
        ignore_patterns=list(ignore_patterns),
        commit_message=commit_message,
    )
    return str(getattr(commit, "commit_url", commit))


__all__ = ["DEFAULT_IGNORE_PATTERNS", "HubAccessError", "check_hub_write_access", "publish_folder"]
