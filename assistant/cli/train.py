"""`trustline train`: the shipped components from the labelled data."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.option("--lang", default="en", show_default=True, help="Language of the training data.")
@click.option(
    "--architecture",
    type=click.Choice(["bow", "ensemble"]),
    default="bow",
    show_default=True,
    help="spaCy text classifier architecture.",
)
@click.option(
    "--epochs",
    default=12,
    show_default=True,
    type=click.IntRange(1, 200),
    help="Passes over the training data.",
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=int,
    help="Random seed; the same seed trains the same model.",
)
@click.option(
    "--component",
    type=click.Choice(["all", "complaints", "interests", "consent"]),
    default="all",
    show_default=True,
    help="Which trained component to rebuild.",
)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder to save into, as OUTPUT/complaints, OUTPUT/interests and OUTPUT/consent "
    "(default: nlp/models/<lang>/, the shipped location).",
)
def train(
    lang: str, architecture: str, epochs: int, seed: int, component: str, output: Path | None
) -> None:
    """Train the shipped components from the labelled data.

    The complaint classifier reads nlp/training/<lang>/complaints-*.jsonl and the corpus's
    training splits, prints the score on a held-out fifth, then trains on all of it. The
    interest recogniser learns from the corpus's gold interest values, the consent
    classifier from its gold consent statements. All are seeded: the same seed and data
    give the same models, which `trustline extract` and the server load.
    """
    from nlp.train import train as run_training
    from nlp.train import train_consent, train_interests

    if component in ("all", "complaints"):
        run_training(
            lang,
            architecture=architecture,
            epochs=epochs,
            seed=seed,
            output=output / "complaints" if output else None,
            log=click.echo,
        )
    if component in ("all", "interests"):
        train_interests(
            lang, seed=seed, output=output / "interests" if output else None, log=click.echo
        )
    if component in ("all", "consent"):
        train_consent(
            lang, seed=seed, output=output / "consent" if output else None, log=click.echo
        )
