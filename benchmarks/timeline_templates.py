"""Sentence templates for synthetic timelines: issue × stance × maximalism level → clauses, plus frames.

A clause is what an actor is reported to have said; `{side}` is the speaker's own side ("Russia", "Moscow").
Level 3 uses absolute wording ("never", "under no circumstances"), 2 a plain demand or refusal, 1 hedged or
conditional wording ("could discuss", "open to"), 0 a concession ("does not object").
"""

from __future__ import annotations

CLAUSES: dict[str, dict[str, dict[int, tuple[str, ...]]]] = {
    "territory": {
        "favor": {
            3: ("{side} will never give up Crimea, Donetsk, Luhansk, Zaporizhzhia or Kherson",
                "the status of the new regions is not subject to discussion under any circumstances",
                "{side} will accept nothing less than full control of Donetsk, Luhansk, Zaporizhzhia and Kherson",
                "{side} will under no circumstances return Crimea or Donbas",
                "the new regions will never be handed back, this is not negotiable",
                "handing back any of the new regions is out of the question"),
            2: ("Ukraine must withdraw its troops from Donetsk and Luhansk",
                "{side} demands the recognition of Crimea and Donbas as Russian territory",
                "{side} insists that Kyiv recognise the new regions",
                "Kyiv has to accept that the new regions are part of Russia"),
            1: ("{side} could discuss the line of contact in Zaporizhzhia and Kherson",
                "{side} is open to some territorial swaps along the front line",
                "a compromise on the borders of Zaporizhzhia might be possible",
                "{side} is willing to consider freezing the front line in Kherson if talks begin",
                "the future of the territories could be discussed at the negotiating table"),
            0: ("{side} is prepared to accept a compromise and give up its claim to the rest of Zaporizhzhia",
                "{side} has no objection to Ukraine keeping the parts of Zaporizhzhia it controls",
                "{side} accepts that Zaporizhzhia may return to Ukraine as part of a deal"),
        },
        "against": {
            3: ("{side} will never cede Donetsk or any other occupied territory",
                "recognising Russian control of Crimea is out of the question under any circumstances",
                "{side} will not give up a single inch of its land and the 1991 borders are non-negotiable",
                "any deal that leaves Donbas to Russia is absolutely unacceptable"),
            2: ("Russia must withdraw its troops from all occupied territories",
                "{side} will not recognise the annexation of Crimea and Donbas",
                "{side} rejects any deal that leaves Russian troops in Zaporizhzhia and Kherson",
                "{side} refuses to hand Donetsk over to Russia",
                "the occupiers have to leave Kherson and Donetsk"),
            1: ("{side} could discuss the status of the occupied territories later, at the negotiating table",
                "a temporary freeze along the front line might be possible if guarantees are in place",
                "{side} is open to talks on the territories that Russia occupies",
                "the question of Crimea could perhaps be settled by diplomacy over time"),
            0: ("{side} accepts that some territory will stay under Russian control for now",
                "{side} does not object to freezing the line of contact where it is"),
        },
    },
    "nato_membership": {
        "favor": {
            3: ("full NATO membership is an absolute demand for {side} and is not negotiable",
                "{side} will accept nothing short of full NATO membership, and this is non-negotiable"),
            2: ("{side} must join NATO",
                "{side} demands a clear invitation to join NATO",
                "Ukraine's place is in NATO and {side} expects an invitation to the Alliance",
                "NATO has to open its door to Ukraine"),
            1: ("{side} could discuss delaying its NATO bid if the security guarantees are strong",
                "NATO membership might wait if Ukraine receives other guarantees",
                "{side} is open to alternatives to NATO membership for now"),
            0: ("{side} has agreed to give up its bid to join NATO",
                "{side} accepts that NATO membership is off the table"),
        },
        "against": {
            3: ("Ukraine in NATO is an absolute red line for {side} and will never be accepted",
                "{side} will never accept Ukraine in NATO under any circumstances",
                "NATO expansion to Ukraine is absolutely unacceptable and not subject to discussion"),
            2: ("Ukraine must not join NATO",
                "{side} demands that Ukraine renounce its plans to join NATO",
                "{side} rejects Ukraine's membership in NATO",
                "Kyiv has to commit to a neutral status outside NATO"),
            1: ("a compromise on Ukraine's ties to NATO might be possible",
                "{side} could perhaps consider some form of partnership between Ukraine and NATO",
                "{side} is willing to discuss Ukraine's relations with NATO",
                "some kind of arrangement on Ukraine and NATO might be possible"),
            0: ("{side} does not object to Ukraine's cooperation with NATO short of membership",),
        },
    },
    "sanctions": {
        "favor": {
            3: ("there can be no sanctions relief for Russia under any circumstances",
                "lifting sanctions before Russia withdraws is out of the question"),
            2: ("sanctions on Russia must be tightened",
                "the West has to adopt a new sanctions package against Moscow",
                "the frozen Russian assets must pay for the reconstruction of Ukraine"),
            1: ("sanctions relief might be possible if Russia agrees to a ceasefire",
                "some sanctions could be eased step by step if Moscow keeps its word"),
            0: ("{side} does not object to easing some sanctions as part of a deal",),
        },
        "against": {
            3: ("{side} will under no circumstances negotiate while the sanctions remain",
                "the full lifting of sanctions is a non-negotiable condition for {side}",
                "{side} will never accept a deal that leaves the sanctions in place"),
            2: ("all sanctions on {side} must be lifted",
                "{side} demands the return of its frozen assets",
                "the confiscation of Russian assets is theft and {side} rejects it"),
            1: ("sanctions relief could be discussed step by step",
                "{side} is open to a gradual easing of sanctions"),
            0: ("{side} does not object to keeping some sanctions in place for now",),
        },
    },
}

CLAUSES["military_limits"] = {
    "favor": {
        3: ("the full demilitarization of Ukraine is a non-negotiable condition for {side}",
            "{side} will never accept a Ukrainian army armed with Western long-range missiles",
            "the demilitarization of Ukraine is not subject to discussion under any circumstances"),
        2: ("Ukraine must reduce the size of its army",
            "{side} demands strict limits on the weapons Ukraine may keep",
            "Western arms deliveries to Kyiv have to stop"),
        1: ("{side} could discuss the size of Ukraine's armed forces at the negotiating table",
            "limits on Ukraine's army could perhaps be discussed at the negotiating table",
            "{side} might consider a larger Ukrainian army than it first demanded"),
        0: ("{side} does not object to Ukraine keeping a defensively armed military force",
            "{side} would accept a Ukrainian army of its current size as a compromise"),
    },
    "against": {
        3: ("{side} will never accept any limits on its armed forces",
            "capping the Ukrainian army is absolutely unacceptable and not negotiable for {side}"),
        2: ("{side} rejects any cap on the size of its army",
            "Western partners must keep supplying Ukraine with weapons",
            "{side} opposes any limits on the size of its army"),
        1: ("{side} could discuss some limits on long-range weapons if security guarantees are in place",
            "a ceiling on some weapon systems might be possible as part of a settlement",
            "{side} is open to talks on the size of its peacetime army"),
        0: ("{side} is prepared to accept a cap on its peacetime army as a compromise",
            "{side} does not object to limits on long-range missiles in exchange for guarantees"),
    },
}

# How a report frames what an actor said; {name} is the actor, {clause} the position.
FRAMES = (
    "{name} said that {clause}.",
    "{name} told reporters that {clause}.",
    "{name} said on {weekday} that {clause}.",
    "In an interview, {name} said {clause}.",
    "Speaking at a press conference, {name} said that {clause}.",
    "{name} stated that {clause}.",
)

# Sentences with no position, as news reports have them.
FILLERS = (
    "The comments came during a visit abroad.",
    "Officials gave no further details about the schedule.",
    "The meeting lasted about two hours.",
    "The remarks were published on the official website.",
    "The interview was recorded earlier in the week.",
    "The statement was read out at a briefing.",
)
