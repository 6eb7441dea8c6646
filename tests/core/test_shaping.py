from callwright.agent.shaping import SentenceSplitter, speakable


def test_sentences_come_out_as_soon_as_they_end() -> None:
    s = SentenceSplitter()
    assert s.feed("Hello there, welcome. Dr. Smith will ") == ["Hello there, welcome."]
    assert s.feed("see you at 3.5 pm! Anything else") == ["Dr. Smith will see you at 3.5 pm!"]
    assert s.flush() == ["Anything else"]


def test_speakable_strips_markdown_emoji_and_links() -> None:
    assert speakable("**Great** news 🎉 see [our page](https://x.example) for\n- more") == "Great news see our page for more"
