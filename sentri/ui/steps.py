"""A test's steps and targets in words, for the pages and the pull-request comment."""

from __future__ import annotations


def describe_target(target: dict | None) -> str:
    """Describe a locator the way a reader says it: role button "Sign in", css #email."""
    if not target:
        return ""
    for kind in ("css", "text", "label", "placeholder", "testid", "xpath"):
        if kind in target:
            text = f'{kind} "{target[kind]}"'
            break
    else:
        text = f"role {target.get('role', '?')}"
        if target.get("name"):
            text += f' "{target["name"]}"'
    if target.get("nth") is not None:
        text += f" (#{target['nth']})"
    return text


def describe_step(step: dict) -> str:
    """Describe one canonical step in one readable line."""
    action = step.get("action", "?")
    parts = [action]
    if action == "expect_screenshot":
        parts.append(f'"{step["name"]}"')
    if "url" in step:
        parts.append(step["url"])
    if step.get("target"):
        parts.append(describe_target(step["target"]))
    if "value" in step:
        parts.append(f'= "{step["value"]}"')
    if "key" in step:
        parts.append(f"key {step['key']}")
    if "text" in step:
        parts.append(f'contains "{step["text"]}"')
    if "title" in step:
        parts.append(f'title contains "{step["title"]}"')
    if "ms" in step:
        parts.append(f"{step['ms']} ms")
    return " ".join(str(p) for p in parts)
