"""The demo ontology as a compact hand-written table, and its parser.

Every label, synonym and definition below was written for this project (Apache-2.0); real medical
concepts are named, but no text, identifier or structure was copied from MeSH, the Disease Ontology or
any other source. One concept per line::

    <indent>label | synonyms | definition [| also: other parent label; ...]

Two spaces of indent per level: L1 domains at column 0, L2 categories at 2, L3 concepts at 4, L4
specifics at 6. Synonyms are ``;``-separated and prefixed ``E:`` (exact), ``R:`` (related) or ``A:``
(abbreviation, stored as an exact synonym). ``also:`` adds more parents, named by label, at the same
level as the line's own parent. Ids are ``DEMO:0001``… in line order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

from ontology.common.errors import InputError

PREFIX = "DEMO"
IRI_BASE = "https://medunlearn.example/onto/"
SOURCE = "unlearn/demo/ontology_spec.py:SPEC"

SPEC = """
foundational sciences | E:basic medical sciences | The sciences that explain how the human body is built, how it works, and how microbes and drugs act on it.
  anatomy | R:human anatomy | The study of the parts of the body, their form and where they lie in relation to each other.
    digestive system anatomy | R:gastrointestinal anatomy | The organs that take in food, break it down, absorb it and pass out what remains.
      stomach | R:gastric organ | The pouch-like organ in the upper abdomen where food is churned with acid and enzymes.
      colon | R:large bowel | The wide last stretch of the gut that takes back water and holds waste.
      vermiform appendix | E:appendix | A narrow dead-end pouch hanging from the first part of the colon.
      liver | R:hepatic organ | The large organ under the right ribs that handles nutrients, makes bile and clears toxins.
      gallbladder | E:gall bladder | The small sac beneath the liver where bile is stored and concentrated.
    cardiovascular system anatomy | R:circulatory system anatomy | The heart together with the vessels that carry blood around the body.
      heart | R:cardiac muscle organ | The four-chambered muscular pump that pushes blood through the lungs and the body.
      aorta | R:main artery | The largest artery, leaving the left side of the heart to supply the whole body.
      coronary arteries | R:coronary vessels | The vessels on the surface of the heart that feed the heart muscle itself.
      mitral valve | E:bicuspid valve | The two-flap valve between the upper and lower chambers on the left side of the heart.
    nervous system anatomy | R:neuroanatomy | The brain, spinal cord and nerves that carry and process signals.
      brain | R:encephalon | The organ inside the skull that governs thought, feeling, movement and bodily regulation.
      hippocampus | R:hippocampal formation | A curved structure deep in the temporal lobe that is needed to lay down new memories.
      amygdala | R:amygdaloid body | A small almond-shaped cluster of neurons that tags events with emotional weight, above all threat.
      prefrontal cortex | A:PFC | The front part of the frontal lobe used for planning, judgement and self-control.
    musculoskeletal system anatomy | R:locomotor system anatomy | The bones, joints, muscles and connective tissue that hold the body up and move it.
      femur | E:thigh bone | The long bone of the thigh, reaching from the hip to the knee.
      hip joint | R:coxofemoral joint | The ball-and-socket joint where the top of the femur sits in the pelvis.
      knee joint | R:tibiofemoral joint | The hinge-like joint formed by the femur, the tibia and the kneecap.
      rotator cuff | R:shoulder cuff muscles | The four muscles and tendons that keep the upper arm bone seated in the shoulder.
  physiology | R:human physiology | The study of how the organs and systems of the body do their work.
    cardiovascular physiology | R:circulatory physiology | How the heart and vessels create and adjust the flow of blood.
      cardiac output | R:heart output | The volume of blood the heart pumps out in one minute.
      blood pressure | A:BP | The push of circulating blood against the walls of the arteries.
      heart rate | R:pulse rate | How many times the heart beats in a minute.
      cardiac conduction | R:heart electrical conduction | The spread of the electrical impulse that times each heartbeat.
    digestive physiology | R:gastrointestinal physiology | How the gut moves, digests and absorbs what is eaten.
      gastric acid secretion | R:stomach acid production | The release of hydrochloric acid by the lining of the stomach.
      bile secretion | R:bile flow | The output of bile from the liver that helps the gut take up fat.
      peristalsis | R:peristaltic waves | Waves of muscle squeezing that move contents along the gut.
      intestinal absorption | R:nutrient uptake | The passage of nutrients and water across the intestinal lining into the blood.
    neurophysiology | R:nervous system physiology | How nerve cells produce, pass on and combine signals.
      action potential | R:nerve impulse | A brief electrical spike that runs along the membrane of a nerve cell.
      synaptic transmission | R:neurotransmission | The handing on of a signal from one neuron to the next, usually by a chemical messenger.
      sleep regulation | R:sleep-wake regulation | The processes that time sleep and wakefulness and keep each going.
      stress response | R:fight-or-flight response | The nervous and hormonal changes that ready the body for a perceived threat.
  pharmacology | R:drug science | The study of drugs: what they do to the body and what the body does to them.
    antibacterial agents | E:antibiotics | Drugs that kill bacteria or stop them from multiplying.
      amoxicillin | R:amoxycillin | A penicillin-type antibiotic taken by mouth for common bacterial infections.
      ceftriaxone | R:third-generation cephalosporin | An injectable cephalosporin antibiotic with a long action.
      ciprofloxacin | R:fluoroquinolone antibiotic | A fluoroquinolone antibiotic often chosen for urinary infections.
      cefazolin | E:cefazoline | A first-generation cephalosporin given just before surgery to prevent wound infection.
      metronidazole | R:nitroimidazole antibiotic | An antibiotic active against bacteria that live without oxygen and some parasites.
      isoniazid | R:INH | An antibiotic used in combination treatment of tuberculosis.
    antiviral agents | E:antivirals | Drugs that stop viruses from copying themselves.
      oseltamivir | R:neuraminidase inhibitor | A tablet that blocks the release of new influenza virus from infected cells.
      acyclovir | E:aciclovir | A drug against herpes viruses, including the one that causes shingles.
      tenofovir | R:nucleotide reverse transcriptase inhibitor | A drug used against HIV and hepatitis B that blocks copying of viral genes.
      remdesivir | R:viral polymerase inhibitor | An antiviral given by drip in hospital for COVID-19.
    analgesics | R:painkillers | Drugs that ease pain.
      paracetamol | E:acetaminophen | A pain and fever reliever with little effect on inflammation.
      ibuprofen | R:propionic acid NSAID | A non-steroidal anti-inflammatory drug for pain and swelling.
      morphine | R:opioid analgesic | A strong opioid pain reliever.
      oxycodone | R:oral opioid | An opioid pain reliever usually taken by mouth.
      ketorolac | R:injectable NSAID | A non-steroidal anti-inflammatory drug given by injection for short-term pain.
    antidepressants | R:antidepressive agents | Drugs that lift depression and often ease anxiety.
      sertraline | R:SSRI antidepressant | A selective serotonin reuptake inhibitor taken once a day.
      fluoxetine | R:long-acting SSRI | A selective serotonin reuptake inhibitor that stays in the body for weeks.
      escitalopram | R:SSRI for anxiety | A selective serotonin reuptake inhibitor often used for both anxiety and depression.
      venlafaxine | R:SNRI antidepressant | A drug that blocks the reuptake of both serotonin and noradrenaline.
      mirtazapine | R:sedating antidepressant | An antidepressant that also tends to help sleep and appetite.
    anxiolytics | E:anti-anxiety agents | Drugs that reduce anxiety.
      lorazepam | R:short-acting benzodiazepine | A benzodiazepine used for brief relief of severe anxiety.
      diazepam | R:long-acting benzodiazepine | A benzodiazepine with a long action, also used for muscle spasm and alcohol withdrawal.
      buspirone | R:azapirone | A non-sedating anti-anxiety drug acting on serotonin receptors.
    antipsychotic agents | E:antipsychotics | Drugs that lessen hallucinations, delusions and muddled thinking.
      olanzapine | R:atypical antipsychotic | A second-generation antipsychotic taken daily.
      quetiapine | R:sedating antipsychotic | A second-generation antipsychotic also used to treat bipolar depression.
      risperidone | R:long-acting injectable antipsychotic | A second-generation antipsychotic that also comes as a depot injection.
      aripiprazole | R:dopamine partial agonist | An antipsychotic that only partly switches on dopamine receptors.
    mood stabilizers | E:mood stabilisers | Drugs that guard against swings into mania or depression.
      lithium carbonate | E:lithium | A salt that evens out mood and lowers the risk of relapse in bipolar disorder.
      valproate | E:valproic acid | An anti-seizure drug also used to bring mania under control.
      lamotrigine | R:anti-seizure mood stabiliser | An anti-seizure drug that helps keep bipolar depression away.
    cardiovascular agents | E:cardiovascular drugs | Drugs that act on the heart and blood vessels.
      metoprolol | R:beta blocker | A beta-blocker that slows the heart and lowers blood pressure.
      lisinopril | R:ACE inhibitor | A drug that relaxes blood vessels, used for high blood pressure and heart failure.
      amlodipine | R:calcium channel blocker | A calcium channel blocker that widens arteries to lower blood pressure.
      atorvastatin | R:statin | A statin that lowers cholesterol made by the liver.
      furosemide | E:frusemide | A strong diuretic that makes the kidneys clear excess fluid.
      aspirin | E:acetylsalicylic acid | A drug that at low dose stops platelets from clumping.
      apixaban | R:factor Xa inhibitor | An anticoagulant tablet that blocks one of the clotting enzymes.
    antidiabetic agents | E:glucose-lowering drugs | Drugs that bring blood sugar down.
      metformin | R:biguanide | A first-choice tablet for type 2 diabetes that cuts the liver's glucose output.
      insulin glargine | R:basal insulin | A long-acting insulin injected once a day.
      empagliflozin | R:SGLT2 inhibitor | A tablet that makes the kidneys pass extra glucose into the urine.
      semaglutide | R:GLP-1 receptor agonist | A weekly injection that boosts insulin release and reduces appetite.
    hormonal agents | R:hormone drugs | Hormones, hormone substitutes and drugs that block hormone production.
      levothyroxine | R:thyroxine replacement | A synthetic thyroid hormone taken daily to replace what the gland does not make.
      methimazole | E:thiamazole | A drug that slows the making of thyroid hormone.
      prednisolone | R:oral corticosteroid | A corticosteroid tablet that damps inflammation.
      hydrocortisone | R:cortisol replacement | A corticosteroid that can stand in for the body's own cortisol.
    respiratory agents | R:airway drugs | Drugs that open the airways or calm airway inflammation.
      salbutamol | E:albuterol | A short-acting inhaled drug that quickly relaxes tight airways.
      tiotropium | R:long-acting antimuscarinic | A once-daily inhaler that keeps the airways open.
      budesonide | R:inhaled corticosteroid | An inhaled steroid that calms swelling in the airways.
      montelukast | R:leukotriene receptor antagonist | A tablet that blocks a chemical signal of airway inflammation.
    gastrointestinal agents | R:digestive drugs | Drugs that act on the stomach and bowel.
      omeprazole | R:proton pump inhibitor | A drug that switches off the stomach's acid pumps.
      ondansetron | R:antiemetic | A drug that prevents nausea and vomiting.
      mesalamine | E:mesalazine | An anti-inflammatory drug that acts on the lining of the bowel.
      lactulose | R:osmotic laxative | A sugar syrup that draws water into the bowel.
    addiction treatment agents | R:drugs for substance use disorders | Drugs that support recovery from dependence on alcohol, opioids or nicotine.
      naltrexone | R:opioid antagonist | A drug that blocks opioid receptors and reduces craving for alcohol.
      buprenorphine | R:partial opioid agonist | A partial opioid used as a substitute treatment for opioid dependence.
      varenicline | R:nicotine receptor partial agonist | A tablet that eases craving and withdrawal when stopping smoking.
      acamprosate | R:anti-craving agent | A drug that helps people stay off alcohol after withdrawal.
diseases | R:clinical conditions | Conditions in which the structure or working of the body is harmed.
  infectious diseases | R:infections | Illnesses caused by microorganisms invading the body.
    bacterial infections | R:bacterial diseases | Infections caused by bacteria.
      urinary tract infection | A:UTI | Bacterial infection of the bladder or kidneys, causing burning and frequent passing of urine.
      cellulitis | R:skin and soft tissue infection | Spreading bacterial infection of the skin and the tissue just beneath it.
      tuberculosis | A:TB | A slow bacterial infection, usually of the lungs, with cough, fever, night sweats and weight loss.
      Clostridioides difficile infection | A:CDI | Diarrhoea and colitis caused by C. difficile, mostly after a course of antibiotics.
      streptococcal pharyngitis | E:strep throat | A bacterial throat infection with fever and painful swallowing.
      bacterial endocarditis | R:infective endocarditis | Infection of the inner lining of the heart, mostly of its valves, by bacteria. | also: heart diseases
    viral infections | R:viral diseases | Infections caused by viruses.
      influenza | E:flu | A seasonal viral illness with fever, aches and cough. | also: respiratory tract infections
      COVID-19 | E:coronavirus disease 2019 | The illness caused by SARS-CoV-2, ranging from a mild cold to severe pneumonia.
      herpes zoster | E:shingles | A painful band of blistering rash when a dormant chickenpox virus reawakens.
      chronic hepatitis B | R:HBV infection | Lasting infection of the liver by the hepatitis B virus.
      HIV infection | R:HIV disease | Infection with the human immunodeficiency virus, which without treatment ends in immune failure.
    respiratory tract infections | R:chest infections | Infections of the nose, throat, airways or lungs.
      community-acquired pneumonia | A:CAP | Infection of the lung tissue caught outside hospital. | also: lung diseases
      acute bronchitis | R:chest cold | Short-lived inflammation of the large airways, usually viral, with cough.
      acute sinusitis | R:sinus infection | Inflammation of the sinuses with facial pain and a blocked nose.
  cardiovascular diseases | R:heart and vessel diseases | Diseases of the heart and blood vessels.
    heart diseases | R:cardiac diseases | Diseases of the heart muscle, valves, coronary vessels or rhythm.
      myocardial infarction | A:MI; E:heart attack | Death of part of the heart muscle after its blood supply is cut off.
      heart failure | A:CHF; E:congestive heart failure | A state in which the heart cannot pump enough blood for the body's needs.
      atrial fibrillation | A:AF; R:AFib | An irregular, often fast heartbeat caused by chaotic activity in the upper chambers.
      aortic valve stenosis | E:aortic stenosis | Narrowing of the valve at the outlet of the left ventricle.
      mitral valve regurgitation | E:mitral regurgitation | Backward leak of blood through the mitral valve with each heartbeat.
      coronary artery disease | A:CAD; R:ischaemic heart disease | Narrowing of the coronary arteries by fatty plaque.
      angina pectoris | E:angina | Chest pain on effort caused by too little blood reaching the heart muscle.
    vascular diseases | R:blood vessel diseases | Diseases of the arteries and veins.
      hypertension | A:HTN; E:high blood pressure | Blood pressure that stays above the healthy range.
      deep vein thrombosis | A:DVT | A blood clot in a deep vein, usually of the leg.
      pulmonary embolism | A:PE | A clot that has travelled to and blocked an artery in the lungs.
      peripheral artery disease | A:PAD | Narrowed leg arteries causing pain on walking.
      abdominal aortic aneurysm | A:AAA | A ballooning of the aorta in the abdomen that can burst.
      carotid artery stenosis | R:carotid stenosis | Narrowing of a carotid artery that raises the risk of stroke.
      varicose veins | R:varicosities | Swollen, twisted surface veins, usually in the legs.
  digestive system diseases | R:digestive disorders | Diseases of the gut, liver, biliary tree and pancreas.
    gastrointestinal diseases | R:bowel and stomach diseases | Diseases of the tube running from the esophagus to the anus.
      acute appendicitis | R:inflamed appendix | Sudden inflammation of the appendix, with pain moving to the lower right abdomen.
      gastroesophageal reflux disease | A:GERD; E:gastro-oesophageal reflux disease | Frequent backflow of stomach acid into the esophagus causing heartburn.
      peptic ulcer disease | A:PUD | Sores in the lining of the stomach or duodenum.
      small bowel obstruction | A:SBO | A blockage of the small intestine with cramps, vomiting and a swollen belly.
      diverticulitis | R:inflamed diverticula | Inflammation of small pouches in the wall of the colon.
      Crohn's disease | E:Crohn disease | A long-term inflammation that can affect any part of the gut in patches.
      ulcerative colitis | A:UC | A long-term inflammation of the lining of the colon and rectum.
      hemorrhoids | E:haemorrhoids; R:piles | Swollen veins at the lower end of the rectum and anus.
    hepatobiliary and pancreatic diseases | R:liver, gallbladder and pancreas diseases | Diseases of the liver, bile ducts, gallbladder and pancreas.
      cholelithiasis | E:gallstones | Stones formed in the gallbladder.
      acute cholecystitis | R:inflamed gallbladder | Sudden inflammation of the gallbladder, usually from a stone blocking its outlet.
      choledocholithiasis | R:common bile duct stones | Stones lodged in the common bile duct.
      liver cirrhosis | E:cirrhosis | Scarring of the whole liver after long injury, with loss of function.
      acute pancreatitis | R:inflamed pancreas | Sudden inflammation of the pancreas with severe upper abdominal pain.
    abdominal hernias | R:hernias of the abdominal wall | Bulges of abdominal contents through a weak spot in the wall around them.
      inguinal hernia | R:groin hernia | A bulge in the groin through the inguinal canal.
      umbilical hernia | R:navel hernia | A bulge through the abdominal wall at the navel.
      incisional hernia | R:scar hernia | A bulge through the scar of an earlier abdominal operation.
      hiatal hernia | E:hiatus hernia | Part of the stomach slipping up through the diaphragm into the chest.
  neoplasms | R:tumours | Abnormal growths of tissue, harmless or malignant.
    digestive system neoplasms | R:gastrointestinal tumours | Tumours of the gut, liver and pancreas.
      colon cancer | E:colon carcinoma; R:bowel cancer | A malignant tumour arising in the lining of the colon.
      gastric cancer | E:stomach cancer | A malignant tumour of the stomach lining.
      pancreatic cancer | R:pancreatic carcinoma | A malignant tumour of the pancreas, often found late.
      hepatocellular carcinoma | A:HCC | A malignant tumour arising from liver cells, often in a cirrhotic liver.
    breast neoplasms | R:breast tumours | Tumours of the breast.
      invasive ductal carcinoma | A:IDC | A breast cancer that starts in a milk duct and grows into the tissue around it.
      ductal carcinoma in situ | A:DCIS | Cancer cells confined inside the milk ducts, not yet invading.
      invasive lobular carcinoma | A:ILC | A breast cancer that starts in the milk-making lobules.
      fibroadenoma | R:benign breast lump | A harmless, smooth, mobile lump of breast tissue.
    thoracic neoplasms | R:chest tumours | Tumours of the lungs, pleura and chest wall.
      non-small cell lung cancer | A:NSCLC | The commoner kind of lung cancer, made of larger cells and growing slower.
      small cell lung cancer | A:SCLC | A fast-growing lung cancer of small cells, strongly linked to smoking.
  respiratory tract diseases | R:lung and airway diseases | Diseases of the airways, lungs and pleura.
    lung diseases | R:pulmonary diseases | Diseases of the lung tissue and the airways inside it.
      asthma | R:reactive airway disease | Airways that narrow in episodes, with wheeze and breathlessness.
      chronic obstructive pulmonary disease | A:COPD | Long-term narrowing of the airways and damage to the air sacs, mostly from smoking.
      idiopathic pulmonary fibrosis | A:IPF | Scarring of the lungs of unknown cause that slowly worsens.
    pleural diseases | R:pleural disorders | Diseases of the pleura and the space between its layers.
      pneumothorax | R:collapsed lung | Air in the pleural space that lets the lung fall in.
      pleural effusion | R:fluid on the lung | Fluid collecting between the layers of the pleura.
      pleural empyema | E:empyema | Pus in the pleural space.
  endocrine system diseases | R:endocrine disorders | Diseases of the hormone-making glands and of metabolism.
    diabetes mellitus | R:diabetes | Diseases in which blood sugar stays too high.
      type 2 diabetes mellitus | A:T2DM; E:type 2 diabetes | Diabetes from the body's reduced response to insulin and a slowly failing supply of it.
      type 1 diabetes mellitus | A:T1DM; E:type 1 diabetes | Diabetes from loss of the insulin-making cells of the pancreas.
      diabetic ketoacidosis | A:DKA | A dangerous build-up of acids in the blood when insulin is lacking.
    thyroid diseases | R:thyroid disorders | Diseases of the thyroid gland.
      hypothyroidism | E:underactive thyroid | Too little thyroid hormone, with tiredness, cold intolerance and weight gain.
      Graves disease | E:Graves' disease | An autoimmune disease that drives the thyroid to make too much hormone.
      thyroid nodule | R:thyroid lump | A lump within the thyroid gland.
    parathyroid and adrenal diseases | R:adrenal disorders | Diseases of the parathyroid and adrenal glands.
      primary hyperparathyroidism | R:overactive parathyroid | Too much parathyroid hormone from the gland itself, raising blood calcium.
      Cushing syndrome | E:Cushing's syndrome | Illness from a long excess of cortisol.
      Addison disease | E:primary adrenal insufficiency | Failure of the adrenal glands to make enough cortisol.
    metabolic and nutritional disorders | R:metabolic diseases | Disorders of how the body handles food, fat and minerals.
      severe obesity | E:morbid obesity | Body weight so far above healthy that it threatens health.
      hyperlipidemia | E:hyperlipidaemia; R:high cholesterol | Too much cholesterol or other fats in the blood.
      vitamin B12 deficiency | R:cobalamin deficiency | Too little vitamin B12, causing anaemia and nerve damage.
      gout | R:gouty arthritis | Sudden painful joint swelling from uric acid crystals. | also: joint diseases
  musculoskeletal diseases | R:bone and joint diseases | Diseases and injuries of bones, joints, muscles and tendons.
    fractures | E:bone fractures | Breaks in a bone.
      hip fracture | R:broken hip | A break at the top of the femur, usually after a fall.
      distal radius fracture | R:broken wrist | A break of the forearm bone just above the wrist.
      ankle fracture | R:broken ankle | A break of one or more bones of the ankle joint.
      vertebral compression fracture | R:collapsed vertebra | The crushing of a vertebra, often in thinned bone.
    joint diseases | R:arthropathies | Diseases of the joints and the tissues right around them.
      osteoarthritis | A:OA | Wear of joint cartilage with pain and stiffness.
      rheumatoid arthritis | A:RA | An autoimmune inflammation of many small joints.
      rotator cuff tear | R:torn rotator cuff | A tear in one of the shoulder's rotator cuff tendons.
      anterior cruciate ligament tear | E:ACL tear | A rupture of the ligament that steadies the knee.
      carpal tunnel syndrome | A:CTS | Numbness and tingling of the hand from pressure on the median nerve at the wrist.
diagnostic and therapeutic techniques | R:medical procedures | The methods used to find out what is wrong with a patient and to treat it.
  surgical procedures | E:operative procedures; R:surgery | Treatments in which tissue is cut, removed, repaired or replaced during an operation.
    digestive system surgical procedures | R:gastrointestinal surgery | Operations on the gut, liver, gallbladder and pancreas.
      appendectomy | E:appendicectomy | Surgical removal of the appendix.
      laparoscopic appendectomy | E:laparoscopic appendicectomy | Removal of the appendix through small ports with a camera. | also: minimally invasive surgical procedures
      laparoscopic cholecystectomy | A:lap chole | Removal of the gallbladder through small ports with a camera. | also: minimally invasive surgical procedures
      open cholecystectomy | R:open gallbladder removal | Removal of the gallbladder through a cut below the right ribs.
      right hemicolectomy | R:right colectomy | Removal of the right side of the colon with the joining of the bowel ends.
      sigmoid colectomy | R:sigmoid resection | Removal of the S-shaped last part of the colon.
      pancreaticoduodenectomy | E:Whipple procedure | Removal of the head of the pancreas together with the duodenum and bile duct.
      total gastrectomy | R:stomach removal | Removal of the whole stomach.
      Nissen fundoplication | R:fundoplication | Wrapping the top of the stomach around the lower esophagus to stop reflux.
      Roux-en-Y gastric bypass | A:RYGB | A weight-loss operation that makes a small stomach pouch joined straight to the small intestine.
      sleeve gastrectomy | R:vertical sleeve gastrectomy | A weight-loss operation removing most of the stomach and leaving a narrow tube.
      hemorrhoidectomy | E:haemorrhoidectomy | Cutting away swollen hemorrhoids.
      small bowel resection | R:enterectomy | Removal of a length of small intestine.
      partial hepatectomy | E:liver resection | Removal of part of the liver.
    cardiovascular surgical procedures | R:cardiac and vascular surgery | Operations on the heart and blood vessels.
      coronary artery bypass grafting | A:CABG | Routing blood past blocked coronary arteries with grafted vessels.
      aortic valve replacement | A:AVR | Replacing a diseased aortic valve with a mechanical or tissue valve.
      mitral valve repair | R:mitral annuloplasty | Reshaping a leaking mitral valve so that it closes again.
      carotid endarterectomy | A:CEA | Opening a carotid artery to peel out the plaque narrowing it.
      endovascular aneurysm repair | A:EVAR | Lining an aortic aneurysm from inside with a stent graft passed through the groin. | also: minimally invasive surgical procedures
      femoropopliteal bypass | E:fem-pop bypass | A graft routing blood around a blocked thigh artery to below the knee.
      varicose vein stripping | E:vein stripping | Pulling out a varicose surface vein of the leg through small cuts.
    orthopedic procedures | E:orthopaedic procedures | Operations on bones, joints, ligaments and tendons.
      total hip arthroplasty | A:THA; E:total hip replacement | Replacing both surfaces of the hip joint with an artificial joint.
      total knee arthroplasty | A:TKA; E:total knee replacement | Replacing the worn surfaces of the knee with an artificial joint.
      open reduction and internal fixation | A:ORIF | Putting broken bone ends back in place through a cut and holding them with plates or screws.
      arthroscopic rotator cuff repair | R:shoulder arthroscopy repair | Stitching a torn rotator cuff tendon back to bone through keyhole ports. | also: minimally invasive surgical procedures
      anterior cruciate ligament reconstruction | E:ACL reconstruction | Replacing a torn anterior cruciate ligament with a tendon graft.
      spinal fusion | R:spondylodesis | Joining two or more vertebrae so that they heal into one bone.
      carpal tunnel release | R:median nerve decompression | Cutting the ligament over the carpal tunnel to free the median nerve.
      kyphoplasty | R:balloon kyphoplasty | Restoring a collapsed vertebra with a balloon and bone cement.
    thoracic surgical procedures | R:chest surgery | Operations on the lungs, pleura and chest wall.
      pulmonary lobectomy | E:lung lobectomy | Removal of one lobe of a lung.
      video-assisted thoracoscopic surgery | A:VATS | Chest surgery done through small ports with a camera. | also: minimally invasive surgical procedures
      pleurodesis | R:pleural symphysis | Making the pleural layers stick together so that fluid or air cannot build up again.
      decortication | R:pleural peel removal | Stripping a thick rind of scar from the surface of the lung so that it can expand.
      lung wedge resection | R:wedge resection | Removal of a small wedge-shaped piece of lung.
    hernia repair procedures | E:herniorrhaphy | Operations that return a hernia and close or reinforce the weak spot.
      inguinal hernia repair | R:groin hernia repair | Repair of an inguinal hernia, usually with a mesh.
      umbilical hernia repair | R:navel hernia repair | Repair of an umbilical hernia.
      incisional hernia repair | R:scar hernia repair | Repair of a hernia through an old operation scar.
      laparoscopic hiatal hernia repair | R:keyhole hiatus hernia repair | Pulling the stomach back below the diaphragm and narrowing the gap through small ports. | also: minimally invasive surgical procedures
    breast surgical procedures | R:breast surgery | Operations on the breast and the lymph nodes that drain it.
      mastectomy | R:breast removal | Removal of the whole breast.
      lumpectomy | E:breast-conserving surgery | Removal of a breast tumour with a rim of normal tissue, keeping the breast.
      sentinel lymph node biopsy | A:SLNB | Removal of the first lymph node that drains a tumour, to check for spread.
      breast reconstruction | R:breast rebuilding | Rebuilding the shape of a breast after mastectomy.
      excisional breast biopsy | R:breast lump excision | Cutting out a whole breast lump for examination.
    endocrine surgical procedures | R:endocrine surgery | Operations on the thyroid, parathyroid and adrenal glands.
      total thyroidectomy | R:thyroid removal | Removal of the whole thyroid gland.
      hemithyroidectomy | E:thyroid lobectomy | Removal of one half of the thyroid gland.
      parathyroidectomy | R:parathyroid removal | Removal of one or more parathyroid glands.
      laparoscopic adrenalectomy | R:keyhole adrenal removal | Removal of an adrenal gland through small ports. | also: minimally invasive surgical procedures
    minimally invasive surgical procedures | R:keyhole surgery | Operations done through small openings with cameras and long instruments.
      diagnostic laparoscopy | R:exploratory laparoscopy | Looking inside the abdomen with a camera through a small cut to find a cause.
  diagnostic techniques | R:diagnostic procedures | Methods used to find or rule out disease.
    diagnostic imaging | R:medical imaging | Ways of making pictures of the inside of the body.
      chest radiography | A:CXR; E:chest X-ray | A plain X-ray picture of the chest.
      computed tomography | E:CT scan | Cross-sectional X-ray images put together by a computer.
      magnetic resonance imaging | A:MRI | Detailed images made with a strong magnet and radio waves.
      abdominal ultrasonography | E:abdominal ultrasound | Sound-wave pictures of the organs of the abdomen.
      echocardiography | E:cardiac ultrasound | Sound-wave pictures of the beating heart and its valves.
      coronary angiography | R:cardiac catheterisation | X-ray pictures of the coronary arteries filled with contrast dye.
    clinical laboratory tests | E:laboratory tests | Measurements made on blood, urine and other samples.
      complete blood count | A:CBC; E:full blood count | Counts of the red cells, white cells and platelets in a blood sample.
      troponin assay | E:troponin test | A blood test for a heart muscle protein released when the heart is injured.
      glycated hemoglobin test | A:HbA1c | A blood test that reflects average blood sugar over about three months.
      blood culture | R:blood cultures | Growing a blood sample to find bacteria or fungi in the bloodstream.
      thyroid function tests | A:TFTs | Blood tests of thyroid hormone and the pituitary hormone that drives it.
      lipid panel | R:cholesterol test | Blood tests of cholesterol and triglycerides.
    endoscopic procedures | R:endoscopy | Looking inside hollow organs with a flexible or rigid camera.
      colonoscopy | R:lower endoscopy | Looking at the whole colon with a camera passed through the anus.
      upper gastrointestinal endoscopy | A:EGD; E:gastroscopy | Looking at the esophagus, stomach and duodenum with a camera passed through the mouth.
      bronchoscopy | R:airway endoscopy | Looking into the airways with a camera passed through the nose or mouth.
      endoscopic retrograde cholangiopancreatography | A:ERCP | Imaging and treating the bile and pancreatic ducts through an endoscope in the duodenum.
    physiological function tests | R:bedside function tests | Tests that record how an organ is working, such as its electrical activity or air flow.
      electrocardiography | A:ECG; E:EKG | A recording of the heart's electrical activity from skin electrodes.
      electroencephalography | A:EEG | A recording of the brain's electrical activity from the scalp.
      ambulatory ECG monitoring | E:Holter monitoring | Recording the heart rhythm over a day or more while the patient goes about normal life.
      spirometry | R:breathing test | Measuring how much and how fast air can be blown out.
      pulse oximetry | R:oxygen saturation measurement | Estimating blood oxygen with a light sensor on a finger.
  nonsurgical therapeutic procedures | R:non-operative treatments | Treatments that do not involve an operation.
    respiratory therapy | R:breathing support | Treatments that support or improve breathing.
      oxygen therapy | R:supplemental oxygen | Giving extra oxygen through a mask or nasal tubes.
      noninvasive ventilation | A:NIV | Breathing support through a tight-fitting mask, without a tube in the windpipe.
      mechanical ventilation | R:ventilator support | Breathing done by a machine through a tube in the windpipe.
      continuous positive airway pressure | A:CPAP | Steady air pressure through a mask that holds the airway open.
    neuromodulation therapies | R:brain stimulation therapies | Treatments that change nerve activity with electricity or magnetism.
      electroconvulsive therapy | A:ECT | A brief seizure induced under anaesthesia to treat severe depression.
      transcranial magnetic stimulation | A:TMS | Magnetic pulses over the scalp that stimulate the cortex beneath.
      vagus nerve stimulation | A:VNS | Electrical pulses to the vagus nerve from a device under the skin.
    cardiac interventions | R:catheter-based cardiac treatments | Treatments of the heart done through catheters or by external shocks.
      percutaneous coronary intervention | A:PCI | Opening a narrowed coronary artery with a balloon and stent passed through an artery.
      electrical cardioversion | R:DC cardioversion | A timed electric shock that resets an abnormal heart rhythm.
      catheter ablation | R:radiofrequency ablation | Destroying the small area of heart tissue that drives an abnormal rhythm.
      pacemaker implantation | R:pacemaker insertion | Placing a small device that keeps the heart from beating too slowly.
  anesthesia | E:anaesthesia | The use of drugs to block pain and awareness during procedures.
    general anesthesia | E:general anaesthesia | A drug-induced, reversible loss of consciousness for surgery.
      total intravenous anesthesia | A:TIVA | General anaesthesia given entirely by drugs into a vein.
      inhalational anesthesia | R:volatile anaesthesia | General anaesthesia kept going with a breathed-in gas.
    regional anesthesia | E:regional anaesthesia | Numbing one part of the body by blocking its nerves.
      spinal anesthesia | E:spinal anaesthesia | Numbing the lower body with an injection into the fluid around the spinal cord.
      epidural anesthesia | E:epidural anaesthesia | Numbing through a fine tube placed just outside the covering of the spinal cord.
      peripheral nerve block | R:nerve block | Numbing a limb or area by injecting around the nerve that supplies it.
psychiatry and psychology | R:mental health sciences | The study and care of the mind, behaviour and mental illness.
  mental disorders | E:psychiatric disorders; R:mental illness | Patterns of thinking, feeling or behaving that cause distress or get in the way of daily life.
    anxiety disorders | R:anxiety conditions | Disorders marked by fear or worry out of proportion to any real danger.
      generalized anxiety disorder | A:GAD; E:generalised anxiety disorder | Long-lasting, hard-to-control worry about many everyday matters, with tension and poor sleep.
      panic disorder | R:panic attacks | Repeated sudden surges of intense fear with racing heart, and dread of the next one.
      social anxiety disorder | E:social phobia | Strong fear of being judged or embarrassed in social situations.
      specific phobia | R:simple phobia | Intense fear of one particular object or situation, such as heights or needles.
      agoraphobia | R:fear of open spaces | Fear of places where escape or help might be hard to find, leading to avoidance.
      separation anxiety disorder | R:separation anxiety | Excessive fear about being apart from the people one is attached to.
      obsessive-compulsive disorder | A:OCD | Intrusive unwanted thoughts and repeated acts performed to ease the distress they cause. | also: obsessive-compulsive and related disorders
      post-traumatic stress disorder | A:PTSD | Reliving, avoidance and constant alertness after a terrifying event. | also: trauma- and stressor-related disorders
    depressive disorders | R:depressive illnesses | Disorders marked by persistent low mood or loss of interest.
      major depressive disorder | A:MDD; E:major depression | Episodes of at least two weeks of low mood or lost pleasure, with changes in sleep, appetite and energy.
      persistent depressive disorder | E:dysthymia | Low mood on most days for two years or more.
      postpartum depression | E:postnatal depression | Depression that starts in pregnancy or the months after birth.
      seasonal affective disorder | R:winter depression | Depression that returns at the same season each year.
    bipolar and related disorders | R:manic-depressive illnesses | Disorders with episodes of raised or irritable mood alternating with depression.
      bipolar I disorder | R:bipolar one disorder | Bipolar illness with at least one full manic episode.
      bipolar II disorder | R:bipolar two disorder | Bipolar illness with milder highs and major depressive episodes.
      cyclothymic disorder | E:cyclothymia | Years of mild ups and downs that never reach full episodes.
    trauma- and stressor-related disorders | R:stress-related disorders | Disorders that follow a traumatic or stressful event.
      acute stress disorder | R:acute stress reaction | Trauma symptoms lasting from three days to a month after the event.
      adjustment disorder | R:adjustment reaction | Distress or poor functioning out of proportion to a recent life change.
      prolonged grief disorder | R:complicated grief | Intense grief that stays disabling long after a death.
    obsessive-compulsive and related disorders | R:obsessive-compulsive spectrum | Disorders with preoccupations and repeated behaviours.
      body dysmorphic disorder | A:BDD | Preoccupation with a flaw in appearance that others barely notice.
      hoarding disorder | R:compulsive hoarding | Persistent difficulty parting with possessions, whatever their value.
      trichotillomania | E:hair-pulling disorder | Repeated pulling out of one's own hair.
      excoriation disorder | E:skin-picking disorder | Repeated picking at one's own skin causing wounds.
    schizophrenia spectrum and psychotic disorders | R:psychotic disorders | Disorders with delusions, hallucinations or disorganised thinking.
      schizophrenia | R:schizophrenic illness | Long-term psychosis with hallucinations, delusions and decline in everyday functioning.
      schizoaffective disorder | R:schizoaffective illness | Psychosis together with major mood episodes.
      brief psychotic disorder | R:brief reactive psychosis | Psychosis lasting less than a month with full recovery.
      delusional disorder | R:paranoid disorder | Fixed false beliefs without other marked features of psychosis.
    feeding and eating disorders | R:eating disorders | Disorders of eating behaviour that harm health.
      anorexia nervosa | R:anorexia | Restricted eating and dangerously low weight driven by fear of gaining weight.
      bulimia nervosa | R:bulimia | Repeated binges followed by vomiting, fasting or other ways of undoing them.
      binge eating disorder | R:compulsive overeating | Repeated binges without measures to undo them.
      avoidant/restrictive food intake disorder | A:ARFID | Eating too little or too narrow a range of food, not driven by body image.
    substance-related and addictive disorders | R:addictions | Disorders of harmful use of substances or of compulsive behaviours.
      alcohol use disorder | A:AUD | A pattern of drinking that the person cannot control despite harm.
      opioid use disorder | A:OUD | Compulsive use of opioids despite harm, usually with dependence.
      tobacco use disorder | R:nicotine dependence | Compulsive use of tobacco with craving and withdrawal.
      cannabis use disorder | R:cannabis dependence | Problematic use of cannabis that the person cannot cut down.
    neurodevelopmental disorders | R:developmental disorders | Conditions that begin in childhood development and affect learning, behaviour or social skills.
      attention-deficit/hyperactivity disorder | A:ADHD | Lasting inattention, restlessness or impulsivity that began in childhood.
      autism spectrum disorder | A:ASD | Differences in social communication with narrow interests and repeated behaviours.
      Tourette syndrome | E:Tourette's disorder | Several motor tics and at least one vocal tic lasting more than a year.
    personality disorders | R:character disorders | Long-standing, rigid ways of thinking and relating that cause distress or harm.
      borderline personality disorder | A:BPD | Unstable moods, relationships and self-image, with impulsive and self-harming acts.
      antisocial personality disorder | R:sociopathy | A long pattern of disregard for the rights of others.
      avoidant personality disorder | R:anxious personality disorder | Lasting shyness and fear of criticism that lead to avoiding others.
      obsessive-compulsive personality disorder | A:OCPD | Preoccupation with order, rules and control at the cost of flexibility.
  psychotherapy | E:psychological therapy; R:talking therapy | Treatment of mental distress through structured conversation and practice.
    cognitive and behavioural therapies | R:CBT family of therapies | Therapies that change patterns of thought and behaviour.
      cognitive behavioural therapy | A:CBT; E:cognitive behavioral therapy | Structured therapy that tests unhelpful thoughts and changes the behaviours they drive.
      exposure and response prevention | A:ERP | Facing feared triggers step by step while holding back the usual rituals.
      prolonged exposure therapy | R:prolonged exposure | Repeated, guided recall of a trauma until it loses its power.
      dialectical behaviour therapy | A:DBT; E:dialectical behavior therapy | Skills training in handling emotions, distress and relationships, with individual coaching.
      behavioural activation | E:behavioral activation | Scheduling rewarding activities to break the cycle of withdrawal and low mood.
      cognitive processing therapy | A:CPT | Therapy that challenges the beliefs a trauma has left behind.
    psychodynamic and interpersonal therapies | R:relational therapies | Therapies that work through relationships and long-standing emotional patterns.
      psychodynamic psychotherapy | R:insight-oriented therapy | Therapy that explores how past experience and hidden feelings shape present problems.
      interpersonal psychotherapy | A:IPT | Time-limited therapy focused on conflicts, role changes and losses in relationships.
      mentalization-based treatment | A:MBT | Therapy that builds the capacity to understand one's own and others' states of mind.
    group and family therapies | R:systemic therapies | Therapies that treat people together with others.
      family therapy | R:systemic family therapy | Therapy with the whole family to change patterns that keep a problem going.
      family-based treatment | A:FBT | Therapy in which parents take charge of a young person's eating to restore weight.
      group psychotherapy | E:group therapy | Therapy delivered to several patients together by one or two therapists.
    brief and integrative therapies | R:third-wave therapies | Shorter or blended therapies built on several traditions.
      motivational enhancement therapy | A:MET | A short therapy that strengthens a person's own reasons to change a habit.
      eye movement desensitization and reprocessing | A:EMDR | Trauma therapy in which memories are recalled while following side-to-side movements.
      mindfulness-based cognitive therapy | A:MBCT | Group training in mindful attention to prevent depression from returning.
      problem-solving therapy | R:problem-solving treatment | Therapy that teaches a stepwise way of tackling practical problems.
  psychological assessment | R:psychometric assessment | Methods for measuring mental state, symptoms and abilities.
    rating scales | E:psychometric rating scales | Questionnaires and scored interviews that grade the severity of symptoms.
      Patient Health Questionnaire-9 | A:PHQ-9 | A nine-question self-report measure of depression severity.
      Generalized Anxiety Disorder 7-item scale | A:GAD-7 | A seven-question self-report measure of anxiety severity.
      Yale-Brown Obsessive Compulsive Scale | A:Y-BOCS | A clinician-scored interview grading obsessions and compulsions.
      PTSD Checklist for DSM-5 | A:PCL-5 | A twenty-item self-report measure of post-traumatic stress symptoms.
      Mini-Mental State Examination | A:MMSE | A short bedside test of orientation, memory and other thinking skills.
    clinical interviews | R:psychiatric interviews | Structured or open conversations used to reach a psychiatric assessment.
      mental status examination | A:MSE | A systematic description of appearance, mood, thought and cognition at the time of interview.
      suicide risk assessment | R:suicide risk screening | A structured enquiry into suicidal thoughts, plans and protective factors.
"""

LEVEL_INDENT = 2
SCOPE_PREFIX = {"E": "EXACT", "R": "RELATED", "A": "EXACT"}


@dataclass(frozen=True)
class Synonym:
    """One synonym: its text, its oboInOwl scope, and whether it is an abbreviation."""

    text: str
    scope: str
    abbreviation: bool = False


@dataclass
class SpecConcept:
    """One concept of the demo ontology."""

    id: str
    label: str
    level: int
    definition: str
    parents: list[str] = field(default_factory=list)
    synonyms: list[Synonym] = field(default_factory=list)

    def surface_forms(self) -> list[str]:
        """The label followed by every synonym text."""
        return [self.label, *(s.text for s in self.synonyms)]


def _parse_synonyms(field_text: str, line: int) -> list[Synonym]:
    out = []
    for item in filter(None, (s.strip() for s in field_text.split(";"))):
        kind, sep, text = item.partition(":")
        if not sep or kind not in SCOPE_PREFIX or not text.strip():
            raise InputError(f"synonym {item!r} must be E:, R: or A: followed by text", SOURCE, line)
        out.append(Synonym(text.strip(), SCOPE_PREFIX[kind], abbreviation=kind == "A"))
    return out


def parse_spec(text: str = SPEC) -> list[SpecConcept]:
    """Parse the spec table into concepts with ids ``DEMO:0001``… in line order.

    Raises
    ------
    InputError
        On a malformed line, a skipped level, a duplicate label or an unknown ``also:`` parent,
        naming the line of ``SPEC``.

    Examples
    --------
    >>> cs = parse_spec("a | E:aa | Def a.\\n  b | A:B | Def b.")
    >>> [(c.id, c.label, c.level, c.parents) for c in cs]
    [('DEMO:0001', 'a', 1, []), ('DEMO:0002', 'b', 2, ['DEMO:0001'])]
    """
    concepts: list[SpecConcept] = []
    by_label: dict[str, SpecConcept] = {}
    stack: list[SpecConcept] = []
    extra: list[tuple[SpecConcept, list[str], int]] = []
    for lineno, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        if indent % LEVEL_INDENT:
            raise InputError(f"indent of {indent} spaces is not a multiple of {LEVEL_INDENT}", SOURCE, lineno)
        level = indent // LEVEL_INDENT + 1
        if level > len(stack) + 1:
            raise InputError(f"level {level} line has no parent at level {level - 1}", SOURCE, lineno)
        fields = [f.strip() for f in raw.split("|")]
        if len(fields) not in (3, 4) or not fields[0] or not fields[2]:
            raise InputError("expected 'label | synonyms | definition [| also: parent; …]'", SOURCE, lineno)
        label = fields[0]
        if label in by_label:
            raise InputError(f"duplicate label {label!r}", SOURCE, lineno)
        del stack[level - 1 :]
        concept = SpecConcept(
            id=f"{PREFIX}:{len(concepts) + 1:04d}",
            label=label,
            level=level,
            definition=fields[2],
            parents=[stack[-1].id] if stack else [],
            synonyms=_parse_synonyms(fields[1], lineno),
        )
        if len(fields) == 4:
            also, sep, listed = fields[3].partition(":")
            if also.strip() != "also" or not sep:
                raise InputError("fourth field must be 'also: parent label; …'", SOURCE, lineno)
            extra.append((concept, [n.strip() for n in listed.split(";") if n.strip()], lineno))
        concepts.append(concept)
        by_label[label] = concept
        stack.append(concept)
    for concept, names, lineno in extra:
        for name in names:
            parent = by_label.get(name)
            if parent is None:
                raise InputError(f"unknown 'also' parent {name!r}", SOURCE, lineno)
            if parent.level != concept.level - 1:
                raise InputError(
                    f"'also' parent {name!r} is at level {parent.level}, not {concept.level - 1}",
                    SOURCE,
                    lineno,
                )
            concept.parents.append(parent.id)
    return concepts


@lru_cache(maxsize=1)
def concepts() -> tuple[SpecConcept, ...]:
    """The parsed demo ontology (cached)."""
    return tuple(parse_spec(SPEC))


def by_id() -> dict[str, SpecConcept]:
    """Concepts keyed by id."""
    return {c.id: c for c in concepts()}


def id_of(label: str) -> str:
    """The id of the concept with this exact label.

    Raises
    ------
    KeyError
        When no concept has that label.
    """
    for c in concepts():
        if c.label == label:
            return c.id
    raise KeyError(f"no demo concept labelled {label!r}")


@lru_cache(maxsize=1)
def _children() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {c.id: [] for c in concepts()}
    for c in concepts():
        for parent in c.parents:
            out[parent].append(c.id)
    return {k: tuple(v) for k, v in out.items()}


def children_of(concept_id: str) -> list[str]:
    """Ids of the direct children of ``concept_id``, in spec order."""
    return list(_children()[concept_id])


def subtree_ids(root_id: str) -> set[str]:
    """``root_id`` and every concept below it."""
    seen = {root_id}
    frontier = [root_id]
    while frontier:
        node = frontier.pop()
        for child in children_of(node):
            if child not in seen:
                seen.add(child)
                frontier.append(child)
    return seen


def iri(concept_id: str) -> str:
    """The IRI of a demo CURIE: ``DEMO:0001`` → ``https://medunlearn.example/onto/DEMO_0001``."""
    prefix, local = concept_id.split(":")
    return f"{IRI_BASE}{prefix}_{local}"
