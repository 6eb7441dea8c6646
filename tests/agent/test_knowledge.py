"""Curated knowledge: retrieval quality on the two example folders, refusal off-topic, and loading errors.

The eval tables are how COSINE_WEIGHT, BM25_HALF and MIN_SCORE in callwright.agent.knowledge were
chosen. The first 18 questions of each table were the tuning set; the last 12 were written before
the scores were looked at (first look: 10/12 and 12/12 right document). Questions are phrased the
way callers speak, not the way the documents are written.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest

from callwright.agent.knowledge import Answer, Hit, Knowledge, Passage
from callwright.engines.embed import MiniLmEmbedder, Vectors, shared_embedder
from callwright.errors import ConfigError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "agents"

# (caller question, expected document, expected section title: the last part of the heading path)
RECOVERY = [
    ("how do I clean around the tube", "catheter-care.md", "Cleaning around the catheter"),
    ("when can I drive again", "activity-and-driving.md", "Driving"),
    ("is it normal to leak a bit when I cough", "continence-and-pelvic-floor.md", "Leaking when you cough, sneeze or stand up"),
    ("my temperature is thirty eight point five, what should I do", "warning-signs.md", "Fever or high temperature"),
    ("nothing's come into the bag for the last couple of hours", "warning-signs.md", "No urine draining into the bag"),
    ("can I take ibuprofen for the pain", "pain-and-medication.md", "Medicines you buy yourself"),
    ("how heavy a thing am I allowed to pick up", "activity-and-driving.md", "Lifting and housework"),
    ("I haven't been able to go to the toilet for days, I'm all blocked up", "diet-and-bowels.md", "Constipation"),
    ("am I allowed to have a bath", "wound-and-bathing.md", "Baths and soaking"),
    ("how do I hook up the big bag for the night", "catheter-care.md", "Leg bag and night bag"),
    ("the back of my leg is swollen and sore", "warning-signs.md", "Calf pain or shortness of breath"),
    ("when do they take the catheter out", "catheter-care.md", "When the catheter comes out"),
    ("how do I do those pelvic floor exercises", "continence-and-pelvic-floor.md", "How to do pelvic floor exercises"),
    ("when can I go back to my job", "activity-and-driving.md", "Going back to work"),
    ("my shoulder really hurts, is that from the operation", "pain-and-medication.md", "What pain to expect"),
    ("how much water should I be drinking", "diet-and-bowels.md", "How much to drink"),
    ("the cut on my belly is red and there's yellow stuff coming out", "wound-and-bathing.md", "Signs of a wound infection"),
    ("the tube fell out, what do I do", "warning-signs.md", "The catheter falls out"),
    # written before looking at scores
    ("do I need to empty the bag on my leg, how often", "catheter-care.md", "Leg bag and night bag"),
    ("I keep getting these sharp cramps down below with the catheter in", "catheter-care.md", "Bladder spasms"),
    ("what painkillers am I supposed to take and how much", "pain-and-medication.md", "Taking your pain relief"),
    ("I'm meant to be doing injections in my stomach every day, do I really have to keep going",
     "pain-and-medication.md", "Injections to prevent blood clots"),
    ("is it all right to go up and down the stairs", "activity-and-driving.md", "Stairs"),
    ("I've started dribbling since they took the catheter out, will that stop",
     "continence-and-pelvic-floor.md", "Leaking urine after the catheter comes out"),
    ("can I have a shower with the bag on", "wound-and-bathing.md", "Showering"),
    ("I've got a fever and I'm shivering", "warning-signs.md", "Fever or high temperature"),
    ("there are big clots in my urine and it's really dark", "warning-signs.md", "Heavy bleeding or clots"),
    ("can I still have my cup of coffee in the morning", "diet-and-bowels.md", "Tea, coffee and alcohol"),
    ("when will I be able to have sex again", "continence-and-pelvic-floor.md", "Erections and sex"),
    ("my scrotum is all bruised and swollen, is that normal", "wound-and-bathing.md", "Bruising and swelling"),
]

ORDERS = [
    ("do you deliver to my area", "delivery.md", "Where we deliver"),
    ("what time do you stop delivering at night", "delivery.md", "Delivery hours"),
    ("how much do you charge for delivery", "fees-and-payment.md", "Delivery fees"),
    ("is there a minimum I have to spend", "fees-and-payment.md", "Minimum order"),
    ("can I pay cash when it arrives", "fees-and-payment.md", "Payment methods"),
    ("some of the eggs were broken when my order came", "returns-and-refunds.md", "Missing or damaged items"),
    ("how long until I get my money back", "returns-and-refunds.md", "How long a refund takes"),
    ("does the pad thai from your kitchen have peanuts in it", "allergens-and-substitutions.md", "Allergies and hot food"),
    ("what happens if you've run out of something I ordered", "allergens-and-substitutions.md", "Substitutions"),
    ("I don't want the replacement they picked for me", "allergens-and-substitutions.md", "Refusing a substitution"),
    ("I need to cancel my order", "delivery.md", "Changing or cancelling an order"),
    ("where's my driver right now", "delivery.md", "Tracking your order"),
    ("my curry showed up stone cold", "returns-and-refunds.md", "Problems with hot food"),
    ("do I need to show ID for beer", "allergens-and-substitutions.md", "Alcohol and age checks"),
    ("what if I'm out when you come", "delivery.md", "If you are not at home"),
    ("how much should I tip the driver", "fees-and-payment.md", "Tips for drivers"),
    ("what does the membership cost", "fees-and-payment.md", "Callwright Market Plus membership"),
    ("can I send back a bottle of shampoo I never opened", "returns-and-refunds.md", "Returning items"),
    # written before looking at scores
    ("are you open on Sundays", "delivery.md", "Delivery hours"),
    ("can I book my shopping for next Tuesday", "delivery.md", "Booking a delivery slot"),
    ("do you take Apple Pay", "fees-and-payment.md", "Payment methods"),
    ("why was I charged a different amount than at checkout", "fees-and-payment.md", "When you are charged"),
    ("can I use two discount codes", "fees-and-payment.md", "Coupons and promo codes"),
    ("you sent me someone else's groceries", "returns-and-refunds.md", "Wrong items delivered"),
    ("can I return the frozen pizza I bought", "returns-and-refunds.md", "Items we cannot take back"),
    ("my son has a nut allergy, how do I know what's safe", "allergens-and-substitutions.md", "Allergen information"),
    ("can I stop you swapping things in my order", "allergens-and-substitutions.md", "Substitutions"),
    ("do you have gluten free stuff", "allergens-and-substitutions.md", "Special diets"),
    ("can the driver leave it on the porch", "delivery.md", "If you are not at home"),
    ("is delivery free if I spend enough", "fees-and-payment.md", "Delivery fees"),
]

OUT_OF_DOMAIN = [
    "what's the weather tomorrow",
    "can you recommend a lawyer",
    "how do I reset my router",
    "who won the football last night",
    "what's the capital of Australia",
    "can you book me a taxi to the airport",
    "tell me a joke",
    "what's the best mortgage rate at the moment",
    # written before looking at scores
    "what time does the bank open",
    "can you help me with my tax return",
    "I want to book a table for two tonight",
    "how tall is Mount Everest",
    "my washing machine is making a strange noise",
    "what films are on at the cinema",
]

FOLDERS = {"recovery-line": RECOVERY, "order-desk": ORDERS}


def report(line: str) -> None:
    """Numbers and misses for the record: shown with ``pytest -s`` or when a test fails."""
    print(line)  # noqa: T201


@pytest.fixture(scope="module")
def knowledge() -> dict[str, Knowledge]:
    shared_embedder().load()
    built = {}
    for name in FOLDERS:
        started = time.perf_counter()
        built[name] = Knowledge.from_folder(EXAMPLES / name / "knowledge")
        report(f"{name}: {len(built[name].passages)} passages indexed in {time.perf_counter() - started:.2f} s")
    return built


@pytest.mark.parametrize("name", list(FOLDERS))
def test_top1_on_caller_questions(knowledge: dict[str, Knowledge], name: str) -> None:
    kb, table = knowledge[name], FOLDERS[name]
    right_doc = right_section = confident = 0
    started = time.perf_counter()
    for question, doc, section in table:
        answer = kb.search(question)
        top = answer.hits[0]
        doc_ok = top.passage.doc == doc
        section_ok = doc_ok and top.passage.section.endswith(section)
        right_doc += doc_ok
        right_section += section_ok
        confident += answer.confident and doc_ok
        if not section_ok:
            report(f"miss: {question!r} -> {top.passage.doc} / {top.passage.section} ({top.score:.3f}); "
                   f"expected {doc} / {section}")
    per_query_ms = (time.perf_counter() - started) / len(table) * 1000
    report(f"{name}: right document {right_doc}/{len(table)}, right section {right_section}/{len(table)}, "
           f"right and confident {confident}/{len(table)}, {per_query_ms:.1f} ms per query")
    assert right_doc >= math.ceil(len(table) * 10 / 12)
    assert right_section >= math.ceil(len(table) * 2 / 3)
    assert confident >= math.ceil(len(table) * 2 / 3)  # most right answers are given, not refused


@pytest.mark.parametrize("name", list(FOLDERS))
def test_out_of_domain_questions_are_not_confident(knowledge: dict[str, Knowledge], name: str) -> None:
    kb = knowledge[name]
    for question in OUT_OF_DOMAIN:
        answer = kb.search(question)
        report(f"{name}: {question!r} best {answer.hits[0].score:.3f} ({answer.hits[0].passage.section})")
        assert not answer.confident, f"{question!r} answered from {answer.hits[0].passage}"
        assert kb.best_sentences(answer) == ""  # the agent says it does not know
        assert answer.hits  # the best passages found are still there for the trace


def test_scores_are_in_range_and_sorted(knowledge: dict[str, Knowledge]) -> None:
    answer = knowledge["recovery-line"].search("when can I drive again", k=5)
    scores = [h.score for h in answer.hits]
    assert len(scores) == 5
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_cite_gives_the_trace_what_it_needs(knowledge: dict[str, Knowledge]) -> None:
    answer = knowledge["recovery-line"].search("how do I clean around the tube", k=2)
    cited = answer.cite()
    assert len(cited) == 2
    first = cited[0]
    assert set(first) == {"doc", "section", "score", "text"}
    assert first["doc"] == "catheter-care.md"
    assert first["section"] == "Catheter care > Cleaning around the catheter"
    assert first["score"] == round(answer.hits[0].score, 3)
    assert first["text"] == answer.hits[0].passage.text[:200]
    assert len(first["text"]) == 200  # that passage is longer: the trace keeps its opening only
    assert cited[1]["score"] <= first["score"]


def test_best_sentences_is_short_and_from_the_top_passage(knowledge: dict[str, Knowledge]) -> None:
    kb = knowledge["recovery-line"]
    answer = kb.search("how do I clean around the tube")
    spoken = kb.best_sentences(answer)
    assert "once a day" in spoken
    assert spoken.count(". ") <= 1 and spoken.endswith(".")
    assert spoken in answer.hits[0].passage.text
    assert kb.best_sentences(answer, max_sentences=1).count(". ") == 0
    fever = kb.search("my temperature is thirty eight point five")
    assert "100.4 degrees Fahrenheit" in kb.best_sentences(fever)


def test_a_disclaimer_in_every_file_is_indexed_once(knowledge: dict[str, Knowledge]) -> None:
    disclaimers = [p for p in knowledge["recovery-line"].passages if p.text.startswith("Educational content")]
    assert len(disclaimers) == 1


async def test_asearch_matches_search(knowledge: dict[str, Knowledge]) -> None:
    kb = knowledge["order-desk"]
    assert await kb.asearch("do you take Apple Pay", k=2) == kb.search("do you take Apple Pay", k=2)


def test_empty_query_is_not_confident(knowledge: dict[str, Knowledge]) -> None:
    assert knowledge["order-desk"].search("  ") == Answer(query="  ", hits=[], confident=False)


# ------------------------------------------------------------------ loading documents
def write_pdf(path: Path, pages: Sequence[Sequence[str]]) -> None:
    """A minimal valid PDF (Helvetica, one text line per string) that pypdf can read back."""
    objects: list[str] = ["<< /Type /Catalog /Pages 2 0 R >>", "", "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for lines in pages:
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 720 Td"]
        ops += [f"({line.replace('(', '[').replace(')', ']')}) Tj T*" for line in lines]
        stream = "\n".join([*ops, "ET"])
        objects.append(f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream")
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {len(objects)} 0 R >>"
        )
        kids.append(len(objects))
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(f'{k} 0 R' for k in kids)}] /Count {len(kids)} >>"
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))


def test_pdf_text_and_markdown_documents(tmp_path: Path) -> None:
    write_pdf(tmp_path / "waste.pdf", [
        ["Garden waste collection.", "Green bins are emptied every second Monday from March to November.",
         "Put the bin out by seven in the morning."],
        ["Bulky items.", "Book a bulky item pickup online. It costs twenty dollars for up to five items."],
    ])
    (tmp_path / "parking.txt").write_text(
        "Resident parking permits cost forty dollars a year.\n\nVisitor permits are sold in books of ten.\n"
    )
    (tmp_path / "guides").mkdir()
    (tmp_path / "guides" / "library.md").write_text(
        "# Library\n\n## Opening hours\n\nThe **central library** is open from nine to six, [Monday to Saturday](https://x.test).\n\n"
        "### Holidays\n\n- The library closes on public holidays.\n\n```\n# not a heading\n```\n"
    )
    (tmp_path / ".hidden.md").write_text("# Secret\n\nNever indexed.\n")
    (tmp_path / "notes.docx").write_bytes(b"ignored: not a supported type")
    kb = Knowledge.from_folder(tmp_path)

    answer = kb.search("when do I put the green bin out")
    assert answer.confident
    assert (answer.hits[0].passage.doc, answer.hits[0].passage.section) == ("waste.pdf", "page 1")
    bulky = kb.search("how much to collect an old sofa").hits[0].passage
    assert (bulky.doc, bulky.section) == ("waste.pdf", "page 2")
    assert "twenty dollars" in bulky.text

    by_section = {(p.doc, p.section): p.text for p in kb.passages}
    assert [p.text for p in kb.passages if p.doc == "parking.txt"] == [
        "Resident parking permits cost forty dollars a year. Visitor permits are sold in books of ten."
    ]
    assert by_section[("guides/library.md", "Library > Opening hours")] == (
        "The central library is open from nine to six, Monday to Saturday."
    )
    assert by_section[("guides/library.md", "Library > Opening hours > Holidays")] == (
        "The library closes on public holidays. # not a heading"
    )
    assert not any(p.doc.startswith(".") or p.doc.endswith(".docx") for p in kb.passages)


def test_long_sections_are_cut_into_short_passages(tmp_path: Path) -> None:
    sentences = [f"Fact number {n} is about topic {n}." for n in range(1, 13)]
    (tmp_path / "long.md").write_text("# Long\n\n" + " ".join(sentences) + "\n")
    passages = Knowledge.from_folder(tmp_path).passages
    assert [p.text.count("Fact number") for p in passages] == [4, 4, 4]
    assert {p.section for p in passages} == {"Long"}


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda d: None, "no documents found"),
        (lambda d: (d / "readme.docx").write_bytes(b"x"), "no documents found"),
        (lambda d: (d / "empty.md").write_text("# Only a title\n\n"), "empty.md: no text found"),
        (lambda d: (d / "latin.txt").write_bytes(b"caf\xe9 au lait\n"), "latin.txt: not UTF-8 text"),
        (lambda d: (d / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not a pdf"), "broken.pdf"),
        (lambda d: write_pdf(d / "scan.pdf", [[]]), "scan.pdf: no text found (a scanned PDF"),
    ],
)
def test_bad_folders_name_the_problem(tmp_path: Path, setup: Callable[[Path], object], expected: str) -> None:
    if "no documents" not in expected:
        (tmp_path / "good.md").write_text("# Good\n\nThis file is fine.\n")  # one bad file spoils the folder
    setup(tmp_path)
    with pytest.raises(ConfigError) as caught:
        Knowledge.from_folder(tmp_path, embedder=CountingEmbedder())
    assert expected in str(caught.value)
    assert str(tmp_path) in str(caught.value)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"knowledge folder .*nowhere: does not exist"):
        Knowledge.from_folder(tmp_path / "nowhere")
    (tmp_path / "file.md").write_text("# x\n\ny\n")
    with pytest.raises(ConfigError, match="not a folder"):
        Knowledge.from_folder(tmp_path / "file.md")


# ------------------------------------------------------------------ embeddings
class CountingEmbedder:
    """The real embedder, counting how many texts it is asked to embed."""

    name = "minilm"

    def __init__(self) -> None:
        self.texts = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.texts += len(texts)
        return shared_embedder().embed(texts)


def test_embeddings_are_cached_on_disk_by_content(tmp_path: Path) -> None:
    docs, cache = tmp_path / "docs", tmp_path / "cache"
    docs.mkdir()
    (docs / "a.md").write_text("# A\n\n## One\n\nFirst passage.\n\n## Two\n\nSecond passage.\n")
    first = CountingEmbedder()
    Knowledge.from_folder(docs, embedder=first, cache_dir=cache)
    assert first.texts == 2 and len(list(cache.glob("*.npy"))) == 1
    again = CountingEmbedder()
    kb = Knowledge.from_folder(docs, embedder=again, cache_dir=cache)
    assert again.texts == 0
    assert kb.search("second").hits[0].passage.section == "A > Two"
    (docs / "a.md").write_text("# A\n\n## One\n\nFirst passage, changed.\n")
    changed = CountingEmbedder()
    Knowledge.from_folder(docs, embedder=changed, cache_dir=cache)
    assert changed.texts == 1 and len(list(cache.glob("*.npy"))) == 2


def test_minilm_vectors() -> None:
    embedder = shared_embedder()
    vectors = embedder.embed(["How do I clean my catheter?", "Wash around the tube with soap and water.",
                              "The weather is nice today."])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > 0.4 > vectors[0] @ vectors[2]
    alone = embedder.embed(["hello there"])[0]
    padded = embedder.embed(["hello there", "a much longer sentence, so the short one is padded in its batch"])[0]
    assert np.allclose(alone, padded, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)
    assert embedder.embed(["word " * 2000]).shape == (1, 384)  # truncated to 256 tokens, not an error
    with pytest.raises(TypeError):
        embedder.embed("not a list")


async def test_minilm_aembed_and_a_private_instance() -> None:
    own = MiniLmEmbedder(batch_size=1)
    assert own.name == "minilm"
    vectors = await own.aembed(["one", "two"])
    assert np.allclose(vectors, shared_embedder().embed(["one", "two"]), atol=1e-5)


def test_knowledge_from_passages() -> None:
    kb = Knowledge([Passage("faq", "Hours", "We are open from nine to five."),
                    Passage("faq", "Parking", "Parking is free behind the building.")], min_score=0.0)
    answer = kb.search("where do I park", k=1)
    assert answer.hits == [Hit(Passage("faq", "Parking", "Parking is free behind the building."), answer.hits[0].score)]
    assert answer.confident
    with pytest.raises(ConfigError):
        Knowledge([])


def test_keywords_match_across_word_forms() -> None:
    """Snowball stemming: "cancel", "cancelled" and "Cancelling" are one keyword (the suffix
    stripper it replaced made "cancel" of the first and "cancell" of the others)."""
    kb = Knowledge([Passage("faq", "Cancelling an order", "Call us before the van leaves."),
                    Passage("faq", "Paying", "We take cards and Apple Pay.")])
    assert kb.is_topic("cancelled orders") and kb.is_topic("cancel")
    assert kb.is_topic("pay")
    assert not kb.is_topic("salmon")


# ------------------------------------------------------------------ safety advice in answers
def test_warning_sentences_are_marked_when_indexed(knowledge: dict[str, Knowledge]) -> None:
    kb = knowledge["recovery-line"]
    bleeding = next(p for p in kb.passages if p.section.endswith("Heavy bleeding or clots"))
    assert "If the bleeding is heavy and you feel faint, dizzy or short of breath, call emergency services." in bleeding.warnings
    assert all(w in bleeding.text for w in bleeding.warnings)
    plain = next(p for p in kb.passages if "Walking is the best exercise" in p.text)
    assert not any("Walking" in w for w in plain.warnings)


def test_a_short_answer_never_drops_the_warning_of_its_passage(knowledge: dict[str, Knowledge]) -> None:
    """The two-sentence window once dropped "call emergency services" from the very section it cited."""
    kb = knowledge["recovery-line"]
    answer = kb.search("my wound keeps bleeding after I press on it firmly")
    assert answer.confident and answer.hits[0].passage.section.endswith("Heavy bleeding or clots"), answer.cite()
    short = kb.best_sentences(answer, max_sentences=1)
    spoken = kb.spoken_answer(answer, max_sentences=1)
    assert "emergency services" not in short  # the window alone leaves it out...
    assert spoken.startswith(short) and "call emergency services" in spoken  # ...the spoken answer keeps it
    assert "call your care team now" in spoken.lower()


def test_an_agent_adds_its_own_warning_phrases(tmp_path: Path) -> None:
    (tmp_path / "shop.md").write_text(
        "# Hot food\n\nOur soups are made fresh every day. Tell the kitchen team about any allergy before you order. "
        "Soups are served in recyclable cups.\n"
    )
    plain = Knowledge.from_folder(tmp_path)
    marked = Knowledge.from_folder(tmp_path, warnings=["tell the kitchen team"])
    assert plain.passages[0].warnings == ()
    assert marked.passages[0].warnings == ("Tell the kitchen team about any allergy before you order.",)


@pytest.mark.parametrize(
    ("said", "added", "not_added"),
    [
        ("is it normal for my wee to be pink", "urine", None),
        ("just a wee question about my bike", "exercise", "urine"),  # Scots "wee": small
        ("when can I get behind the wheel", "driving", None),
        ("can I pick my grandson up", "lifting", None),
        ("the bottle of olive oil was smashed", "damaged item", None),
        # broken in the caller's home or on them, not in the bag: no refund is asked about
        ("the gate's bust so could he phone from the road", "call", "damaged item"),
        ("our lift is broken again, can the driver ring ahead", "call", "damaged item"),
        ("I've a broken wrist so can they carry it in", "lifting", "damaged item"),
    ],
)
def test_everyday_words_add_the_documents_words(said: str, added: str, not_added: str | None) -> None:
    from callwright.agent.knowledge import expand

    assert added in expand(said)
    assert not_added is None or not_added not in expand(said)


def test_an_everyday_word_the_documents_head_a_section_with_is_not_expanded() -> None:
    """"shower" is everyday speech for washing, but when a section is called "Showering" the word finds
    it by itself; adding "bathing washing" would pull the answer to the section on baths."""
    kb = Knowledge([Passage("care", "Showering", "You can shower from the day after you get home."),
                    Passage("care", "Baths and soaking", "Avoid soaking in a bath until the wound has healed.")])
    assert kb.search("when am I allowed to shower", k=1).hits[0].passage.section == "Showering"
    from callwright.agent.knowledge import expand

    assert "bathing" in expand("when am I allowed to shower")  # without documents: expanded
    assert expand("when am I allowed to shower", named=lambda words: words == "shower") == "when am I allowed to shower"


# ------------------------------------------------------------------ what the question asks, and which heading it names
def test_a_heading_that_answers_the_kind_of_question_wins_a_near_tie() -> None:
    """Two sections on one subject: "when" finds "When to ...", "how do I" finds "How to ..." (held-out-10)."""
    kb = Knowledge([
        Passage("guide", "How to plant tulips", "Dig a hole twice as deep as the bulb and set it pointed end up."),
        Passage("guide", "When to plant tulips", "Plant the bulbs in autumn, once the soil has cooled."),
    ])
    assert kb.search("tulip bulbs, when should I put them in").hits[0].passage.section == "When to plant tulips"
    assert kb.search("how do I put tulip bulbs in").hits[0].passage.section == "How to plant tulips"


def test_an_everyday_word_for_a_heading_word_points_to_its_section(knowledge: dict[str, Knowledge]) -> None:
    """What else a caller says around "beers" ("alcohol" heads one section) does not drown it."""
    kb = knowledge["recovery-line"]
    answer = kb.search("would a few pints down the pub on saturday be alright")
    assert answer.confident and answer.hits[0].passage.section.endswith("Tea, coffee and alcohol")


def test_of_a_heading_with_two_subjects_the_sentence_about_the_one_asked_is_said(knowledge: dict[str, Knowledge]) -> None:
    kb = knowledge["recovery-line"]
    said = kb.spoken_answer(kb.search("what about flying then"))
    assert "before you fly" in said


def test_what_a_caller_tells_around_the_question_does_not_pick_the_section(knowledge: dict[str, Knowledge]) -> None:
    """Held-out-12's classes, in phrasings of their own: a planned removal is not the accident; where
    the operation was is not the question; "keeps" says nothing of the subject; a heading word said
    amid chatter still points to its section; "flights" is the flying half of "Travelling and flying"."""
    kb = knowledge["recovery-line"]
    planned = kb.search("had my catheter out at the hospital yesterday morning, no problems")
    assert "by accident" not in planned.hits[0].passage.text
    assert "by accident" in kb.search("my catheter just popped out while I was asleep").hits[0].passage.text
    shoulder = kb.spoken_answer(kb.search("my shoulder is sore at the tip, but the operation was on my stomach"))
    assert "shoulder" in shoulder and "gas" in shoulder
    strap = kb.spoken_answer(kb.search("my leg bag keeps falling down when I walk about, how do I stop it"))
    assert "strapped to your thigh" in strap
    assert kb.search("my dad wants to know when he can drive his lorry again, he's fed up stuck indoors").confident
    assert "before you fly" in kb.spoken_answer(kb.search("we've a plane to catch to Spain in a fortnight, will I be okay"))
    assert kb.search("will the bedroom side of life come back to normal").hits[0].passage.section.endswith("Erections and sex")
