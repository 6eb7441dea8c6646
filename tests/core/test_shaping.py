from callwright.agent.shaping import SentenceSplitter, speakable


def test_sentences_come_out_as_soon_as_they_end() -> None:
    s = SentenceSplitter()
    assert s.feed("Hello there, welcome. Dr. Smith will ") == ["Hello there, welcome."]
    assert s.feed("see you at 3.5 pm! Anything else") == ["Dr. Smith will see you at 3.5 pm!"]
    assert s.flush() == ["Anything else"]


def test_speakable_strips_markdown_emoji_and_links() -> None:
    assert speakable("**Great** news 🎉 see [our page](https://x.example) for\n- more") == "Great news see our page for more"


def test_one_splitter_for_streams_and_documents() -> None:
    from callwright.agent.shaping import split_sentences

    text = "Call Dr. Smith at 9 a.m. tomorrow. It costs $3.50 each, e.g. eggs. Fact 1. Fact 2. See you at 3 p.m. Bye."
    assert split_sentences(text) == [
        "Call Dr. Smith at 9 a.m. tomorrow.", "It costs $3.50 each, e.g. eggs.", "Fact 1.", "Fact 2.",
        "See you at 3 p.m.", "Bye.",
    ]
    streamed = SentenceSplitter(min_chars=0)
    pieces = [p for delta in ("See you at 9 a.m.", " tomorrow", ". Bye", ".") for p in streamed.feed(delta)]
    assert pieces + streamed.flush() == ["See you at 9 a.m. tomorrow.", "Bye."]
