Feature: Eastmoor: social prescribing, ambulance handover and continuing healthcare
  A second integrated care system, written as its IG officer would: a voluntary-sector
  social prescribing service, an ambulance trust, and NHS Continuing Healthcare shared
  between the ICB, the hospital and the county council. Its words (link workers, paramedics,
  continuing healthcare assessments, lasting powers of attorney) are its own vocabulary.

  # ---- Social prescribing: a voluntary organisation, with explicit consent -------------------

  Scenario: A link worker at a voluntary organisation gets the GP's care plan with consent
    Given a link worker at Eastmoor Together in the person's care team
    And the person has given explicit consent
    When they ask Moorside Medical Centre for the care plan for direct care
    Then sharing is permitted
    And the legal basis includes explicit consent
    And the legal basis includes Article 9(2)(h)
    And the legal basis does not include implied consent
    And they must record the consent
    And the deciding rule is em-social-prescribing/care-plan-for-link-workers

  Scenario: Without the person's consent the link worker is refused, and told to ask
    Given a social prescribing link worker at Eastmoor Together in the person's care team
    When they ask Harbour Lane Surgery for the care plan for direct care
    Then sharing is not permitted
    And the reason mentions "explicit consent"
    And it would be permitted if the consent is explicit
    And the deciding rule is em-social-prescribing/consent-needed

  Scenario: A link worker gets the care plan, not the clinical record
    Given a link worker at Eastmoor Together in the person's care team
    And the person's details are:
      | consent | explicit |
    When they ask Moorside Medical Centre for the GP summary for direct care
    Then sharing is not permitted
    And the reason mentions "Caldicott principles 3 and 4"
    And the deciding rule is em-social-prescribing/link-worker-minimum-necessary

  Scenario: The person's objection is respected, and never suggested away
    Given a link worker at Eastmoor Together in the person's care team
    And the person's details are:
      | consent   | explicit |
      | objection | true     |
    When they ask Moorside Medical Centre for the care plan for direct care
    Then sharing is not permitted
    And the deciding rule is em-social-prescribing/person-objected
    And nothing would make it permitted

  # ---- Ambulance: paramedics in an emergency, and handover to the hospital ------------------

  Scenario: A paramedic sees the medicines of a person who lacks capacity, in their best interests
    Given a paramedic at Eastmoor Ambulance Service
    And the person lacks capacity for this decision
    When they ask Moorside Medical Centre for the medication list for emergency care
    And they give the justification "999 call: found collapsed, unresponsive, on several medicines"
    Then sharing is permitted
    And the legal basis includes best interests
    And the legal basis includes Mental Capacity Act 2005
    And the obligations include a retrospective review
    And they must record their justification
    And the deciding rule is em-ambulance/paramedic-best-interests

  Scenario: A paramedic reads the hospice's ReSPECT plan for a conscious patient
    Given a paramedic at Eastmoor Ambulance Service
    When they ask St Brigid's Hospice for the ReSPECT emergency care plan for emergency care
    And they give the justification "Breathless at home; family ask what the plan says"
    Then sharing is permitted
    And the legal basis includes implied consent
    And they must inform the subject
    And the deciding rule is em-ambulance/paramedic-emergency-treatment

  Scenario: Emergency access needs a justification
    Given a paramedic at Eastmoor Ambulance Service
    When they ask Heatherbank Care Home for the care plan for emergency care
    And they give no justification
    Then sharing is not permitted
    And it would be permitted if a justification is given
    And the deciding rule is em-ambulance/justification-required

  Scenario: A person who can decide may refuse, even in an emergency
    Given a paramedic at Eastmoor Ambulance Service
    And the person's details are:
      | has capacity | true |
      | objection    | true |
    When they ask Harbour Lane Surgery for the GP summary for emergency care
    And they give the justification "Fall at home; wants to stay at home"
    Then sharing is not permitted
    And the reason mentions "may refuse"
    And the deciding rule is em-ambulance/capable-person-refused

  Scenario: The hospital receives the crew's patient care record at handover
    Given a ward nurse at Eastmoor General Hospital in the person's care team
    When they ask Eastmoor Ambulance Service for the ambulance patient care record for direct care
    Then sharing is permitted
    And the legal basis includes section 251B
    And the deciding rule is em-ambulance/handover-to-hospital

  # ---- NHS Continuing Healthcare and the lasting power of attorney --------------------------

  Scenario: The continuing healthcare assessment is shared with the person's consent
    Given a continuing healthcare nurse assessor at NHS Eastmoor Integrated Care Board in the person's care team
    And the person's details are:
      | consent | explicit |
    When they ask Eastmoor General Hospital for the continuing healthcare assessment for direct care
    Then sharing is permitted
    And the legal basis includes Standing Rules
    And the deciding rule is em-chc/assessment-with-consent

  Scenario: A person who can decide is asked first
    Given a social worker at Eastmoor County Council in the person's care team
    When they ask NHS Eastmoor Integrated Care Board for the continuing healthcare assessment for direct care
    Then sharing is not permitted
    And the reason mentions "ask for their informed consent"
    And it would be permitted if the consent is explicit
    And the deciding rule is em-chc/ask-the-person

  Scenario: A health and welfare attorney decides for a person who lacks capacity
    Given a social worker at Eastmoor County Council in the person's care team
    And the person's details are:
      | fact                      | value |
      | has capacity              | false |
      | lasting power of attorney | true  |
    When they ask Eastmoor General Hospital for the continuing healthcare assessment for direct care
    Then sharing is not permitted
    And the reason mentions "Ask the attorney"
    And it would be permitted if the consent is explicit
    And the deciding rule is em-chc/attorney-decides

  Scenario: With the attorney's consent the assessment is shared
    Given a consultant at Eastmoor General Hospital in the person's care team
    And the person lacks capacity for this decision
    And someone holds a health and welfare lasting power of attorney for the person
    And the person's attorney has given explicit consent on their behalf
    When they ask Eastmoor County Council for the continuing healthcare assessment for direct care
    Then sharing is permitted
    And the legal basis includes explicit consent
    And the legal basis includes sections 9 and 11(7)
    And the legal basis does not include best interests
    And they must check the LPA registration
    And the deciding rule is em-chc/attorney-consented

  Scenario: With no attorney, the professionals decide in the person's best interests
    Given a consultant at Eastmoor General Hospital in the person's care team
    And the person lacks capacity for this decision
    And no one holds a lasting power of attorney for the person
    When they ask Eastmoor County Council for the continuing healthcare assessment for direct care
    Then sharing is permitted
    And the legal basis includes best interests
    And they must record the best interests
    And the deciding rule is em-chc/best-interests-no-attorney

  Scenario: An objection to sharing the continuing healthcare assessment is respected
    Given a GP at Harbour Lane Surgery in the person's care team
    And the person's details are:
      | consent   | explicit |
      | objection | true     |
    When they ask Eastmoor Community Health for the continuing healthcare assessment for direct care
    Then sharing is not permitted
    And the reason mentions "s251B"
    And the deciding rule is em-chc/person-objected
    And nothing would make it permitted

  # ---- Defaults: what a request leaves out, and what no agreement covers --------------------

  Scenario: Saying nothing about an attorney means there is none
    Given a discharge coordinator at Eastmoor General Hospital in the person's care team
    And the person's details are:
      | has capacity | false |
    When they ask Heatherbank Care Home for the continuing healthcare assessment for direct care
    Then sharing is permitted
    And the deciding rule is em-chc/best-interests-no-attorney
    And the details mention "no one is recorded as holding a health and welfare lasting power of attorney"

  Scenario: Saying nothing about the care team means the requester is not in it
    Given a continuing healthcare nurse assessor at NHS Eastmoor Integrated Care Board
    And the person's details are:
      | consent | explicit |
    When they ask Eastmoor General Hospital for the continuing healthcare assessment for direct care
    Then sharing is not permitted
    And it would be permitted if the requester were in the person's care team
    And the deciding rule is em-chc/not-in-care-team

  Scenario: No agreement covers the district council's housing officer
    Given a housing officer at Eastmoor District Council
    When they ask Moorside Medical Centre for the care plan for direct care
    Then sharing is not permitted
    And no agreement covers it
