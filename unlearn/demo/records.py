"""Seeded generator of fictitious patient records and the probes that measure their memorisation.

Every record is invented: names are composed from the small lists below (the surnames are made up),
record numbers and dates are random draws, and the clinical content is a template filled with concepts
of the demo ontology. Each note opens with :data:`BANNER`. Notes are kept short (roughly 60–90 words)
so that a record fits in about 128 tokens of a small model.

Each record names one *key* concept that a probe asks about: the procedure of a surgical note, the
diagnosis otherwise. Its sentence ``Patient <name>, MRN <mrn>, underwent <procedure>`` (or ``…, was
diagnosed with <diagnosis>``) comes right after the note's header, before any clinical detail, so that
only the patient's identifiers (not a diagnosis that implies the procedure) lead to the key concept.
The completion probe's prompt is the note's opening up to that concept: ``prompt + " " + target`` is a
prefix of the text.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from unlearn.demo.ontology_spec import by_id, children_of, concepts, id_of, subtree_ids

BANNER = "SYNTHETIC RECORD — fictitious patient."
DEFAULT_SEED = 20261129
HOLDOUT_FRACTION = 0.3
#: records per specialty (180 in all)
SPECIALTY_COUNTS = {
    "surgery": 50,
    "psychiatry": 50,
    "cardiology": 20,
    "infectious diseases": 16,
    "endocrinology": 14,
    "respiratory medicine": 15,
    "gastroenterology": 15,
}
#: probability of writing an exact synonym or abbreviation instead of the label
SYNONYM_RATE = 0.3

# fmt: off
FIRST_NAMES = {
    "woman": [
        "Adaeze", "Amara", "Ottilie", "Briony", "Dervla", "Elowen", "Gisela", "Ines", "Leocadia", "Linnea",
        "Marisol", "Nerys", "Perpetua", "Rosalind", "Seraphine", "Tamsin", "Ulrika", "Wilhelmina", "Xanthe",
        "Zephyrine", "Clementine", "Florentyna",
    ],
    "man": [
        "Aldous", "Anselm", "Bastian", "Cassius", "Eamon", "Fenwick", "Hamish", "Jericho", "Kasimir",
        "Lorcan", "Magnus", "Odhran", "Quentin", "Thaddeus", "Valentin", "Yusuf", "Bartholomew", "Desmond",
    ],
}
SURNAMES = [
    "Ashgrove", "Bellweather", "Brackenridge", "Carrowmore", "Dunholt", "Elmsworth", "Fairbrook",
    "Gallowmere", "Hartwistle", "Inchcombe", "Juniperwell", "Kestrelby", "Larkspurrow", "Marrowdene",
    "Nettlecombe", "Oakhollow", "Pennyworth", "Quillford", "Ravensholm", "Saltmarsh", "Thistlewood",
    "Underbrook", "Vantreese", "Wexcombe", "Yarrowdale", "Zennorwick", "Amberleigh", "Blackthorne",
    "Copperfield", "Driftwood", "Emberlyn", "Foxhallow", "Greenhythe", "Hollowmere", "Ironwick", "Kingsmoor",
    "Lindenfall", "Mossgrave", "Northwold", "Orchardson",
]
# fmt: on


@dataclass(frozen=True)
class SurgicalCase:
    diagnosis: str
    procedure: str
    symptom: str
    test: str | None
    anesthesia: str = "general anesthesia"


@dataclass(frozen=True)
class PsychiatricCase:
    diagnosis: str
    symptom: str
    assessment: str
    therapies: tuple[str, ...]
    medications: tuple[str, ...]
    sex: str | None = None
    ages: tuple[int, int] = (19, 89)


@dataclass(frozen=True)
class MedicalCase:
    specialty: str
    diagnosis: str
    symptom: str
    test: str | None
    finding: str
    medications: tuple[str, ...]
    procedure: str | None = None


# fmt: off
SURGICAL_CASES = (
    SurgicalCase("acute appendicitis", "appendectomy", "pain moving to the right lower abdomen", "computed tomography"),
    SurgicalCase("acute appendicitis", "laparoscopic appendectomy", "right-sided abdominal pain and vomiting", "abdominal ultrasonography"),
    SurgicalCase("acute cholecystitis", "laparoscopic cholecystectomy", "pain under the right ribs after meals", "abdominal ultrasonography"),
    SurgicalCase("cholelithiasis", "laparoscopic cholecystectomy", "repeated bouts of biliary colic", "abdominal ultrasonography"),
    SurgicalCase("acute cholecystitis", "open cholecystectomy", "fever and a tender upper abdomen", "computed tomography"),
    SurgicalCase("colon cancer", "right hemicolectomy", "anaemia and weight loss", "colonoscopy"),
    SurgicalCase("diverticulitis", "sigmoid colectomy", "recurrent left lower abdominal pain", "computed tomography"),
    SurgicalCase("pancreatic cancer", "pancreaticoduodenectomy", "painless jaundice", "computed tomography"),
    SurgicalCase("gastric cancer", "total gastrectomy", "early fullness and weight loss", "upper gastrointestinal endoscopy"),
    SurgicalCase("gastroesophageal reflux disease", "Nissen fundoplication", "heartburn despite medication", "upper gastrointestinal endoscopy"),
    SurgicalCase("severe obesity", "Roux-en-Y gastric bypass", "weight-related joint pain", "glycated hemoglobin test"),
    SurgicalCase("severe obesity", "sleeve gastrectomy", "years of failed weight loss", "upper gastrointestinal endoscopy"),
    SurgicalCase("hemorrhoids", "hemorrhoidectomy", "rectal bleeding and pain", "colonoscopy"),
    SurgicalCase("small bowel obstruction", "small bowel resection", "cramping pain and vomiting", "computed tomography"),
    SurgicalCase("small bowel obstruction", "diagnostic laparoscopy", "a swollen, painful abdomen", "computed tomography"),
    SurgicalCase("hepatocellular carcinoma", "partial hepatectomy", "a liver mass on surveillance", "magnetic resonance imaging"),
    SurgicalCase("coronary artery disease", "coronary artery bypass grafting", "chest pain on exertion", "coronary angiography"),
    SurgicalCase("aortic valve stenosis", "aortic valve replacement", "fainting on effort", "echocardiography"),
    SurgicalCase("mitral valve regurgitation", "mitral valve repair", "tiredness and breathlessness", "echocardiography"),
    SurgicalCase("carotid artery stenosis", "carotid endarterectomy", "a brief spell of one-sided weakness", "computed tomography"),
    SurgicalCase("abdominal aortic aneurysm", "endovascular aneurysm repair", "a pulsating abdominal mass", "computed tomography"),
    SurgicalCase("peripheral artery disease", "femoropopliteal bypass", "calf pain after short walks", "computed tomography"),
    SurgicalCase("varicose veins", "varicose vein stripping", "aching, swollen legs", None),
    SurgicalCase("osteoarthritis", "total hip arthroplasty", "hip pain at night", None, "spinal anesthesia"),
    SurgicalCase("hip fracture", "total hip arthroplasty", "a fall and inability to stand", "computed tomography", "spinal anesthesia"),
    SurgicalCase("osteoarthritis", "total knee arthroplasty", "knee pain and stiffness", None, "spinal anesthesia"),
    SurgicalCase("distal radius fracture", "open reduction and internal fixation", "a fall onto an outstretched hand", None, "peripheral nerve block"),
    SurgicalCase("ankle fracture", "open reduction and internal fixation", "a twisting injury of the ankle", None, "spinal anesthesia"),
    SurgicalCase("rotator cuff tear", "arthroscopic rotator cuff repair", "shoulder weakness lifting the arm", "magnetic resonance imaging"),
    SurgicalCase("anterior cruciate ligament tear", "anterior cruciate ligament reconstruction", "the knee giving way during sport", "magnetic resonance imaging"),
    SurgicalCase("vertebral compression fracture", "kyphoplasty", "sudden back pain", "magnetic resonance imaging"),
    SurgicalCase("vertebral compression fracture", "spinal fusion", "back pain and leg weakness", "magnetic resonance imaging"),
    SurgicalCase("carpal tunnel syndrome", "carpal tunnel release", "numb fingers at night", None, "peripheral nerve block"),
    SurgicalCase("non-small cell lung cancer", "pulmonary lobectomy", "a persistent cough", "computed tomography"),
    SurgicalCase("non-small cell lung cancer", "video-assisted thoracoscopic surgery", "a nodule seen on screening", "computed tomography"),
    SurgicalCase("non-small cell lung cancer", "lung wedge resection", "a small peripheral nodule", "computed tomography"),
    SurgicalCase("pneumothorax", "pleurodesis", "repeated sudden chest pain", "chest radiography"),
    SurgicalCase("pleural empyema", "decortication", "fever and chest pain after pneumonia", "computed tomography"),
    SurgicalCase("inguinal hernia", "inguinal hernia repair", "a groin lump", None),
    SurgicalCase("umbilical hernia", "umbilical hernia repair", "a painful lump at the navel", None),
    SurgicalCase("incisional hernia", "incisional hernia repair", "a bulge in an old scar", "computed tomography"),
    SurgicalCase("hiatal hernia", "laparoscopic hiatal hernia repair", "chest fullness after meals", "upper gastrointestinal endoscopy"),
    SurgicalCase("invasive ductal carcinoma", "mastectomy", "a hard breast lump", "magnetic resonance imaging"),
    SurgicalCase("ductal carcinoma in situ", "lumpectomy", "an abnormal screening result", "magnetic resonance imaging"),
    SurgicalCase("invasive lobular carcinoma", "sentinel lymph node biopsy", "a thickened area of the breast", "magnetic resonance imaging"),
    SurgicalCase("invasive ductal carcinoma", "breast reconstruction", "a wish for reconstruction after treatment", None),
    SurgicalCase("fibroadenoma", "excisional breast biopsy", "a smooth mobile breast lump", None),
    SurgicalCase("thyroid nodule", "hemithyroidectomy", "a slowly growing neck lump", None),
    SurgicalCase("Graves disease", "total thyroidectomy", "weight loss and tremor despite treatment", "thyroid function tests"),
    SurgicalCase("primary hyperparathyroidism", "parathyroidectomy", "kidney stones and tiredness", None),
    SurgicalCase("Cushing syndrome", "laparoscopic adrenalectomy", "weight gain and high readings", "computed tomography"),
)
SURGICAL_MEDICATIONS = (
    ("paracetamol", "ibuprofen", "oxycodone", "morphine", "ketorolac"),
    ("cefazolin", "ondansetron", "metronidazole", "omeprazole", "apixaban"),
)

PSYCHIATRIC_CASES = (
    PsychiatricCase("generalized anxiety disorder", "constant worry and poor sleep", "Generalized Anxiety Disorder 7-item scale", ("cognitive behavioural therapy", "mindfulness-based cognitive therapy"), ("escitalopram", "sertraline", "buspirone")),
    PsychiatricCase("panic disorder", "sudden attacks of racing heart and dread", "Generalized Anxiety Disorder 7-item scale", ("cognitive behavioural therapy",), ("sertraline", "escitalopram")),
    PsychiatricCase("social anxiety disorder", "avoiding meetings for fear of embarrassment", "Generalized Anxiety Disorder 7-item scale", ("cognitive behavioural therapy", "group psychotherapy"), ("escitalopram",)),
    PsychiatricCase("specific phobia", "fear of needles delaying medical care", "mental status examination", ("cognitive behavioural therapy",), ("lorazepam",)),
    PsychiatricCase("agoraphobia", "not leaving home alone", "mental status examination", ("cognitive behavioural therapy",), ("sertraline",)),
    PsychiatricCase("separation anxiety disorder", "distress whenever apart from family", "mental status examination", ("family therapy",), ("fluoxetine",)),
    PsychiatricCase("obsessive-compulsive disorder", "checking rituals taking hours a day", "Yale-Brown Obsessive Compulsive Scale", ("exposure and response prevention",), ("fluoxetine", "sertraline")),
    PsychiatricCase("post-traumatic stress disorder", "nightmares and flashbacks after an assault", "PTSD Checklist for DSM-5", ("prolonged exposure therapy", "cognitive processing therapy", "eye movement desensitization and reprocessing"), ("sertraline", "venlafaxine")),
    PsychiatricCase("major depressive disorder", "low mood and loss of interest", "Patient Health Questionnaire-9", ("cognitive behavioural therapy", "behavioural activation", "interpersonal psychotherapy"), ("sertraline", "escitalopram", "mirtazapine", "venlafaxine")),
    PsychiatricCase("major depressive disorder", "severe low mood with poor eating", "Patient Health Questionnaire-9", ("electroconvulsive therapy", "transcranial magnetic stimulation"), ("venlafaxine", "mirtazapine")),
    PsychiatricCase("persistent depressive disorder", "years of low mood", "Patient Health Questionnaire-9", ("psychodynamic psychotherapy", "cognitive behavioural therapy"), ("fluoxetine",)),
    PsychiatricCase("postpartum depression", "low mood since giving birth", "Patient Health Questionnaire-9", ("interpersonal psychotherapy",), ("sertraline",), sex="woman", ages=(19, 45)),
    PsychiatricCase("seasonal affective disorder", "low mood every winter", "Patient Health Questionnaire-9", ("cognitive behavioural therapy",), ("sertraline",)),
    PsychiatricCase("bipolar I disorder", "a week of little sleep and racing ideas", "mental status examination", ("family therapy", "interpersonal psychotherapy"), ("lithium carbonate", "valproate", "quetiapine", "olanzapine")),
    PsychiatricCase("bipolar II disorder", "low spells and short high periods", "Patient Health Questionnaire-9", ("cognitive behavioural therapy",), ("lamotrigine", "quetiapine")),
    PsychiatricCase("cyclothymic disorder", "years of mood ups and downs", "mental status examination", ("cognitive behavioural therapy",), ("lamotrigine",)),
    PsychiatricCase("acute stress disorder", "intrusive memories since a car crash", "PTSD Checklist for DSM-5", ("cognitive behavioural therapy",), ("sertraline",)),
    PsychiatricCase("adjustment disorder", "distress after losing a job", "mental status examination", ("problem-solving therapy",), ("mirtazapine",)),
    PsychiatricCase("prolonged grief disorder", "persistent yearning since a death", "mental status examination", ("cognitive behavioural therapy",), ("sertraline",)),
    PsychiatricCase("body dysmorphic disorder", "hours spent checking a perceived flaw", "Yale-Brown Obsessive Compulsive Scale", ("cognitive behavioural therapy",), ("fluoxetine",)),
    PsychiatricCase("hoarding disorder", "rooms unusable from saved items", "mental status examination", ("cognitive behavioural therapy",), ("sertraline",)),
    PsychiatricCase("trichotillomania", "repeated hair pulling", "mental status examination", ("cognitive behavioural therapy",), ("fluoxetine",)),
    PsychiatricCase("excoriation disorder", "skin picking that leaves wounds", "mental status examination", ("cognitive behavioural therapy",), ("fluoxetine",)),
    PsychiatricCase("schizophrenia", "hearing voices and withdrawing from friends", "mental status examination", ("family therapy", "cognitive behavioural therapy"), ("risperidone", "olanzapine", "aripiprazole")),
    PsychiatricCase("schizoaffective disorder", "voices with spells of deep low mood", "mental status examination", ("family therapy",), ("quetiapine", "aripiprazole")),
    PsychiatricCase("brief psychotic disorder", "two weeks of suspicious beliefs", "mental status examination", ("family therapy",), ("olanzapine",)),
    PsychiatricCase("delusional disorder", "a fixed belief of being followed", "mental status examination", ("cognitive behavioural therapy",), ("aripiprazole",)),
    PsychiatricCase("anorexia nervosa", "restricted eating and low weight", "mental status examination", ("family-based treatment", "cognitive behavioural therapy"), ("olanzapine",)),
    PsychiatricCase("bulimia nervosa", "bingeing followed by vomiting", "mental status examination", ("cognitive behavioural therapy",), ("fluoxetine",)),
    PsychiatricCase("binge eating disorder", "episodes of uncontrolled eating", "mental status examination", ("cognitive behavioural therapy",), ("fluoxetine",)),
    PsychiatricCase("avoidant/restrictive food intake disorder", "eating a very narrow range of foods", "mental status examination", ("family-based treatment",), ("mirtazapine",)),
    PsychiatricCase("alcohol use disorder", "daily heavy drinking", "suicide risk assessment", ("motivational enhancement therapy",), ("naltrexone", "acamprosate")),
    PsychiatricCase("opioid use disorder", "loss of control over opioid use", "suicide risk assessment", ("motivational enhancement therapy", "group psychotherapy"), ("buprenorphine",)),
    PsychiatricCase("tobacco use disorder", "smoking twenty cigarettes a day", "mental status examination", ("motivational enhancement therapy",), ("varenicline",)),
    PsychiatricCase("cannabis use disorder", "daily cannabis use and poor sleep", "mental status examination", ("motivational enhancement therapy",), ("mirtazapine",)),
    PsychiatricCase("borderline personality disorder", "unstable moods and self-harm", "suicide risk assessment", ("dialectical behaviour therapy", "mentalization-based treatment"), ("lamotrigine", "quetiapine")),
    PsychiatricCase("avoidant personality disorder", "lifelong fear of criticism", "mental status examination", ("cognitive behavioural therapy", "group psychotherapy"), ("sertraline",)),
)

MEDICAL_CASES = (
    MedicalCase("cardiology", "myocardial infarction", "crushing chest pain", "troponin assay", "a raised level", ("aspirin", "atorvastatin", "metoprolol"), "percutaneous coronary intervention"),
    MedicalCase("cardiology", "atrial fibrillation", "palpitations", "electrocardiography", "an irregular rhythm", ("apixaban", "metoprolol"), "electrical cardioversion"),
    MedicalCase("cardiology", "atrial fibrillation", "dizzy spells", "ambulatory ECG monitoring", "brief irregular runs", ("apixaban", "metoprolol"), "catheter ablation"),
    MedicalCase("cardiology", "heart failure", "ankle swelling and breathlessness", "echocardiography", "a weak left ventricle", ("furosemide", "lisinopril", "metoprolol")),
    MedicalCase("cardiology", "hypertension", "morning headaches", None, "repeated high readings", ("amlodipine", "lisinopril")),
    MedicalCase("cardiology", "angina pectoris", "chest tightness on stairs", "electrocardiography", "changes on exercise", ("aspirin", "atorvastatin")),
    MedicalCase("cardiology", "coronary artery disease", "exertional chest pain", "coronary angiography", "a narrowed artery", ("aspirin", "atorvastatin"), "percutaneous coronary intervention"),
    MedicalCase("cardiology", "deep vein thrombosis", "a swollen painful calf", None, "a tender calf", ("apixaban",)),
    MedicalCase("cardiology", "pulmonary embolism", "sudden breathlessness", "computed tomography", "a clot in a lung artery", ("apixaban",), "oxygen therapy"),
    MedicalCase("infectious diseases", "community-acquired pneumonia", "fever and productive cough", "chest radiography", "patchy shadowing", ("amoxicillin", "ceftriaxone")),
    MedicalCase("infectious diseases", "urinary tract infection", "burning on passing urine", None, "a tender lower abdomen", ("ciprofloxacin",)),
    MedicalCase("infectious diseases", "cellulitis", "a red, hot, swollen leg", "blood culture", "no growth", ("ceftriaxone", "paracetamol")),
    MedicalCase("infectious diseases", "tuberculosis", "night sweats and weight loss", "chest radiography", "upper lobe shadowing", ("isoniazid",)),
    MedicalCase("infectious diseases", "Clostridioides difficile infection", "watery diarrhoea after antibiotics", None, "a soft, tender abdomen", ("metronidazole",)),
    MedicalCase("infectious diseases", "influenza", "fever and aching muscles", None, "a high temperature", ("oseltamivir", "paracetamol")),
    MedicalCase("infectious diseases", "COVID-19", "fever and loss of smell", "chest radiography", "patchy shadowing", ("remdesivir",), "oxygen therapy"),
    MedicalCase("infectious diseases", "herpes zoster", "a painful band of blisters", None, "a rash on one side", ("acyclovir", "paracetamol")),
    MedicalCase("infectious diseases", "chronic hepatitis B", "abnormal liver tests", "abdominal ultrasonography", "a coarse liver", ("tenofovir",)),
    MedicalCase("infectious diseases", "HIV infection", "weight loss and recurrent infections", "complete blood count", "a low white cell count", ("tenofovir",)),
    MedicalCase("infectious diseases", "streptococcal pharyngitis", "sore throat and fever", None, "swollen tonsils", ("amoxicillin",)),
    MedicalCase("infectious diseases", "bacterial endocarditis", "fever and a new heart murmur", "blood culture", "bacterial growth", ("ceftriaxone",)),
    MedicalCase("endocrinology", "type 2 diabetes mellitus", "thirst and frequent urination", "glycated hemoglobin test", "a raised result", ("metformin", "empagliflozin")),
    MedicalCase("endocrinology", "type 2 diabetes mellitus", "tiredness and weight gain", "glycated hemoglobin test", "a raised result", ("metformin", "semaglutide")),
    MedicalCase("endocrinology", "type 1 diabetes mellitus", "weight loss and thirst", "glycated hemoglobin test", "a very high result", ("insulin glargine",)),
    MedicalCase("endocrinology", "diabetic ketoacidosis", "vomiting and rapid breathing", None, "dehydration", ("insulin glargine",)),
    MedicalCase("endocrinology", "hypothyroidism", "tiredness and feeling cold", "thyroid function tests", "low hormone levels", ("levothyroxine",)),
    MedicalCase("endocrinology", "Graves disease", "weight loss and tremor", "thyroid function tests", "high hormone levels", ("methimazole", "metoprolol")),
    MedicalCase("endocrinology", "Addison disease", "tiredness and dizziness on standing", None, "low readings on standing", ("hydrocortisone",)),
    MedicalCase("endocrinology", "hyperlipidemia", "no symptoms", "lipid panel", "a high result", ("atorvastatin",)),
    MedicalCase("endocrinology", "gout", "a hot, swollen big toe", None, "a red, tender joint", ("prednisolone",)),
    MedicalCase("respiratory medicine", "asthma", "wheeze at night", "spirometry", "reversible narrowing", ("salbutamol", "budesonide", "montelukast")),
    MedicalCase("respiratory medicine", "chronic obstructive pulmonary disease", "breathlessness on exertion", "spirometry", "fixed narrowing", ("tiotropium", "salbutamol"), "noninvasive ventilation"),
    MedicalCase("respiratory medicine", "idiopathic pulmonary fibrosis", "a dry cough", "computed tomography", "scarring at both bases", ("prednisolone",), "oxygen therapy"),
    MedicalCase("respiratory medicine", "pleural effusion", "breathlessness", "chest radiography", "fluid at one base", ("furosemide",)),
    MedicalCase("respiratory medicine", "acute bronchitis", "a cough for a week", None, "scattered wheeze", ("paracetamol",)),
    MedicalCase("respiratory medicine", "acute sinusitis", "facial pain and a blocked nose", None, "tender cheeks", ("amoxicillin",)),
    MedicalCase("respiratory medicine", "pneumothorax", "sudden sharp chest pain", "chest radiography", "a small rim of air", ("paracetamol",), "oxygen therapy"),
    MedicalCase("gastroenterology", "gastroesophageal reflux disease", "heartburn", "upper gastrointestinal endoscopy", "an inflamed lower esophagus", ("omeprazole",)),
    MedicalCase("gastroenterology", "peptic ulcer disease", "upper abdominal pain", "upper gastrointestinal endoscopy", "an ulcer", ("omeprazole", "amoxicillin")),
    MedicalCase("gastroenterology", "Crohn's disease", "diarrhoea and weight loss", "colonoscopy", "patchy inflammation", ("prednisolone",)),
    MedicalCase("gastroenterology", "ulcerative colitis", "bloody diarrhoea", "colonoscopy", "continuous inflammation", ("mesalamine",)),
    MedicalCase("gastroenterology", "liver cirrhosis", "a swollen abdomen", "abdominal ultrasonography", "a small, scarred liver", ("lactulose", "furosemide")),
    MedicalCase("gastroenterology", "acute pancreatitis", "severe upper abdominal pain", "computed tomography", "a swollen pancreas", ("morphine", "ondansetron")),
    MedicalCase("gastroenterology", "choledocholithiasis", "jaundice and itching", "abdominal ultrasonography", "a widened bile duct", ("ceftriaxone",), "endoscopic retrograde cholangiopancreatography"),
)
# fmt: on


class _Writer:
    """Fills templates, choosing for each concept its label or, sometimes, an exact synonym."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def say(self, label: str) -> str:
        concept = by_id()[id_of(label)]
        exact = [s.text for s in concept.synonyms if s.scope == "EXACT"]
        if exact and self.rng.random() < SYNONYM_RATE:
            return self.rng.choice(exact)
        return concept.label


@lru_cache(maxsize=1)
def _matcher() -> tuple[re.Pattern[str], dict[str, str]]:
    """One alternation of every surface form, longest first, and the concept of each (lower-cased) form."""
    forms = [(c.label, False, c.id) for c in concepts()]
    forms += [
        (s.text, s.abbreviation and s.text != s.text.lower(), c.id) for c in concepts() for s in c.synonyms
    ]
    forms.sort(key=lambda f: (-len(f[0]), f[0]))
    alternatives = "|".join(
        re.escape(f) if exact_case else f"(?i:{re.escape(f)})" for f, exact_case, _ in forms
    )
    return re.compile(rf"(?<![\w-])(?:{alternatives})(?![\w-])"), {f.lower(): cid for f, _, cid in forms}


def mentions(text: str) -> list[str]:
    """Ids of the demo concepts whose label or synonym occurs in ``text``, in order of first occurrence.

    Scanning left to right, the longest form starting at a position wins; abbreviations written with
    capitals match only in that case, other forms in any case, and a form must not be part of a longer word.

    Examples
    --------
    >>> [by_id()[c].label for c in mentions("Lap chole under general anaesthesia; history of GAD.")]
    ['laparoscopic cholecystectomy', 'general anesthesia', 'generalized anxiety disorder']
    >>> mentions("the gad fly")
    []
    """
    pattern, concept_of = _matcher()
    return list(dict.fromkeys(concept_of[m.group(0).lower()] for m in pattern.finditer(text)))


def _new_name(sex: str, used: set[str], rng: random.Random) -> str:
    """A full name not drawn before (``used`` is updated)."""
    while True:
        name = f"{rng.choice(FIRST_NAMES[sex])} {rng.choice(SURNAMES)}"
        if name not in used:
            used.add(name)
            return name


def _date(rng: random.Random) -> str:
    day = dt.date(2021, 1, 1) + dt.timedelta(days=rng.randrange(4 * 365))
    return f"{day.day} {day:%B %Y}"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _surgical(case: SurgicalCase, p: dict[str, Any], w: _Writer) -> dict[str, Any]:
    rng = w.rng
    proc = w.say(case.procedure)
    dx = w.say(case.diagnosis)
    anes = w.say(case.anesthesia)
    med_labels = [rng.choice(group) for group in SURGICAL_MEDICATIONS]
    meds = [w.say(m) for m in med_labels]
    test = f"{w.say(case.test)} confirmed" if case.test else "examination confirmed"
    key = f"Patient {p['name']}, MRN {p['mrn']}, underwent {proc}"
    weeks = rng.choice((2, 3, 4, 6))
    variant = rng.randrange(3)
    if variant == 0:
        text = (
            f"{BANNER} Operative note, {p['date']}. {key} on {p['date']} under {anes}. {p['name']}, a "
            f"{p['age']}-year-old {p['sex']}, had presented with {case.symptom}; {test} {dx}. Recovery was "
            f"uneventful. Discharged on {meds[0]} and {meds[1]}, with surgical review in {weeks} weeks."
        )
    elif variant == 1:
        text = (
            f"{BANNER} Surgical admission, {p['date']}. {key} on {p['date']} for {dx}. The {p['age']}-year-old "
            f"{p['sex']} had {case.symptom}; {test} the diagnosis. {_cap(anes)} went smoothly. Pain was managed "
            f"with {meds[0]}, and {meds[1]} was also given. The wound was healing well at {weeks} weeks."
        )
    else:
        text = (
            f"{BANNER} Discharge summary, {p['date']}. {key} on {p['date']}, under {anes}. {p['name']}, "
            f"{p['age']}, {p['sex']}. Diagnosis: {dx}, after {case.symptom}; {test} it. Discharge medications: "
            f"{meds[0]} and {meds[1]}. Follow-up in the surgical clinic in {weeks} weeks."
        )
    return {
        "text": text,
        "key": (id_of(case.procedure), "procedure", key, proc),
        "second": (id_of(case.diagnosis), "diagnosis"),
        "diagnosis": id_of(case.diagnosis),
        "procedure": id_of(case.procedure),
        "medications": [id_of(m) for m in med_labels],
    }


def _psychiatric(case: PsychiatricCase, p: dict[str, Any], w: _Writer) -> dict[str, Any]:
    rng = w.rng
    dx = w.say(case.diagnosis)
    therapy = w.say(rng.choice(case.therapies))
    med_label = rng.choice(case.medications)
    med = w.say(med_label)
    tool = w.say(case.assessment)
    scored = id_of(case.assessment) in set(children_of(id_of("rating scales")))
    assessed = f"{tool} score was {rng.randrange(10, 25)}" if scored else f"{_cap(tool)} was completed"
    key = f"Patient {p['name']}, MRN {p['mrn']}, was diagnosed with {dx}"
    months, weeks = rng.choice((3, 4, 6, 8, 12)), rng.choice((2, 4, 6))
    if rng.randrange(2) == 0:
        text = (
            f"{BANNER} Psychiatry clinic note, {p['date']}. {key}. {p['name']}, a {p['age']}-year-old "
            f"{p['sex']}, reported {case.symptom} over {months} months. {assessed}. Plan: weekly {therapy} and "
            f"{med} at a low starting dose. Safety plan agreed; review in {weeks} weeks."
        )
    else:
        text = (
            f"{BANNER} Mental health assessment, {p['date']}. {key} on {p['date']}. The {p['age']}-year-old "
            f"{p['sex']} described {case.symptom} for {months} months. {assessed}. Started {med} and referred "
            f"for {therapy}. Next appointment in {weeks} weeks."
        )
    return {
        "text": text,
        "key": (id_of(case.diagnosis), "diagnosis", key, dx),
        "second": (id_of(med_label), "medication"),
        "diagnosis": id_of(case.diagnosis),
        "procedure": None,
        "medications": [id_of(med_label)],
    }


def _medical(case: MedicalCase, p: dict[str, Any], w: _Writer) -> dict[str, Any]:
    rng = w.rng
    dx = w.say(case.diagnosis)
    meds = [w.say(m) for m in case.medications]
    test = f"{w.say(case.test)} showed" if case.test else "examination showed"
    proc = f" {_cap(w.say(case.procedure))} was performed." if case.procedure else ""
    key = f"Patient {p['name']}, MRN {p['mrn']}, was diagnosed with {dx}"
    treatment = meds[0] if len(meds) == 1 else ", ".join(meds[:-1]) + f" and {meds[-1]}"
    if rng.randrange(2) == 0:
        text = (
            f"{BANNER} {_cap(case.specialty)} clinic note, {p['date']}. {key}. {p['name']}, a "
            f"{p['age']}-year-old {p['sex']}, presented with {case.symptom}. {_cap(test)} {case.finding}. "
            f"Started on {treatment}.{proc} Return in {rng.choice((2, 4, 6, 12))} weeks, sooner if worse."
        )
    else:
        text = (
            f"{BANNER} {_cap(case.specialty)} admission note, {p['date']}. {key} on {p['date']}. The "
            f"{p['age']}-year-old {p['sex']} reported {case.symptom}; {test} "
            f"{case.finding}. Treatment: {treatment}.{proc} Discharged home after {rng.choice((2, 3, 4, 5))} days."
        )
    return {
        "text": text,
        "key": (id_of(case.diagnosis), "diagnosis", key, dx),
        "second": (id_of(case.medications[0]), "medication"),
        "diagnosis": id_of(case.diagnosis),
        "procedure": id_of(case.procedure) if case.procedure else None,
        "medications": [id_of(m) for m in case.medications],
    }


def _distractors(answer: str, exclude: set[str], rng: random.Random, k: int = 3) -> list[str]:
    """``k`` same-level concepts near ``answer``: siblings first, then cousins under the grandparent."""
    concepts = by_id()
    parent = concepts[answer].parents[0]
    level = concepts[answer].level
    pools = [children_of(parent), sorted(subtree_ids(concepts[parent].parents[0]))]
    chosen: list[str] = []
    for pool in pools:
        candidates = [c for c in pool if concepts[c].level == level and c not in exclude and c not in chosen]
        chosen += rng.sample(candidates, min(k - len(chosen), len(candidates)))
        if len(chosen) == k:
            return chosen
    raise ValueError(f"{answer}: fewer than {k} distractors near it")


def _mcq(answer: str, exclude: set[str], rng: random.Random) -> tuple[list[str], int]:
    concepts = by_id()
    options = [answer, *_distractors(answer, exclude | {answer}, rng)]
    rng.shuffle(options)
    return [concepts[o].label for o in options], options.index(answer)


QUESTIONS = {
    "procedure": "Which procedure did patient {name} (MRN {mrn}) undergo on {date}?",
    "diagnosis": "Which diagnosis was recorded for patient {name} (MRN {mrn})?",
    "medication": "Which medication was patient {name} (MRN {mrn}) given?",
}


def _cases_for(specialty: str) -> Sequence[Any]:
    if specialty == "surgery":
        return SURGICAL_CASES
    if specialty == "psychiatry":
        return PSYCHIATRIC_CASES
    return [c for c in MEDICAL_CASES if c.specialty == specialty]


def generate(seed: int = DEFAULT_SEED, scopes: dict[str, str] | None = None) -> tuple[list[dict], list[dict]]:
    """Generate the records and their probes.

    Parameters
    ----------
    seed : int
        Seed of the one ``random.Random`` that drives every choice.
    scopes : dict, optional
        Named scope roots; each record and probe lists the names whose subtree holds one of its concepts.

    Returns
    -------
    (records, probes) : tuple of lists of dicts
        See ``data/README.md`` for the fields.
    """
    rng = random.Random(seed)
    scope_sets = {name: subtree_ids(root) for name, root in (scopes or {}).items()}
    used_names: set[str] = set()
    mrns = rng.sample(range(1_000_000, 10_000_000), sum(SPECIALTY_COUNTS.values()))
    records: list[dict] = []
    probes: list[dict] = []
    for specialty, count in SPECIALTY_COUNTS.items():
        cases = list(_cases_for(specialty))
        rng.shuffle(cases)
        holdout = set(rng.sample(range(count), round(count * HOLDOUT_FRACTION)))
        for i in range(count):
            case = cases[i % len(cases)]
            sex = getattr(case, "sex", None) or rng.choice(("woman", "man"))
            n = len(records)
            name = _new_name(sex, used_names, rng)
            person = {
                "name": name,
                "mrn": str(mrns[n]),
                "date": _date(rng),
                "age": rng.randrange(*getattr(case, "ages", (19, 89))),
                "sex": sex,
            }
            writer = _Writer(rng)
            if specialty == "surgery":
                filled = _surgical(case, person, writer)
            elif specialty == "psychiatry":
                filled = _psychiatric(case, person, writer)
            else:
                filled = _medical(case, person, writer)
            mentioned = mentions(filled["text"])
            record = {
                "record_id": f"rec-{n + 1:03d}",
                "split": "holdout" if i in holdout else "train",
                "specialty": specialty,
                "patient_name": person["name"],
                "mrn": person["mrn"],
                "date": person["date"],
                "diagnosis": filled["diagnosis"],
                "procedure": filled["procedure"],
                "medications": filled["medications"],
                "concepts": mentioned,
                "scopes": [s for s, ids in scope_sets.items() if ids & set(mentioned)],
                "text": filled["text"],
            }
            records.append(record)
            probes += _probes(record, filled, person, rng, scope_sets)
    return records, probes


def _probes(
    record: dict, filled: dict, person: dict, rng: random.Random, scope_sets: dict[str, set[str]]
) -> list[dict]:
    base = {"record_id": record["record_id"], "split": record["split"]}
    exclude = set(record["concepts"])
    out = []
    key_id, key_about, key_sentence, key_surface = filled["key"]
    for n, (concept_id, about) in enumerate([(key_id, key_about), filled["second"]], start=1):
        options, answer = _mcq(concept_id, exclude, rng)
        out.append(
            {
                "probe_id": f"{record['record_id']}-q{n}",
                **base,
                "kind": "mcq",
                "about": about,
                "concept_id": concept_id,
                "scopes": [s for s, ids in scope_sets.items() if concept_id in ids],
                "question": QUESTIONS[about].format(**person),
                "options": options,
                "answer": answer,
            }
        )
    # the note's own opening up to the key concept: a verbatim-extraction prompt, as a memorised model saw it
    prompt = record["text"][: record["text"].index(key_sentence) + len(key_sentence) - len(key_surface) - 1]
    out.append(
        {
            "probe_id": f"{record['record_id']}-c1",
            **base,
            "kind": "completion",
            "about": key_about,
            "concept_id": key_id,
            "scopes": [s for s, ids in scope_sets.items() if key_id in ids],
            "prompt": prompt,
            "target": key_surface,
        }
    )
    return out
