Feature: Explicit consent and legal duties
  Explicit consent to a use lifts the national data opt-out for that use (NHS England national
  data opt-out operational policy). A person's explicit consent to disclosure is a basis for
  disclosure to the police (UK GDPR 9(2)(a); common law: explicit consent). A Safeguarding
  Adults Board request under the Care Act 2014 s45 is a legal obligation (UK GDPR 6(1)(c)).

  # National data opt-out operational policy: consent to the use lifts the opt-out
  Scenario: Opt-out policy: explicit consent lifts the opt-out for planning
    Given an analyst at Northgate Integrated Care Board
    And the person has registered a national data opt-out
    And the person has given explicit consent
    When they ask Northgate Hospitals for the discharge summary for service planning
    Then sharing is permitted
    And the legal basis includes explicit consent
    And the legal basis includes the opt-out does not apply where the person has consented
    And the deciding rule is ntg-planning/explicit-consent

  # National data opt-out: it binds a section 251 use
  Scenario: Opt-out policy: section 251 support does not carry a use over the opt-out
    Given an analyst at Northgate Integrated Care Board
    And the person has registered a national data opt-out
    And the use has section 251 support
    When they ask Northgate Community Health for the care plan for service planning
    Then sharing is not permitted
    And the deciding rule is ntg-planning/national-data-opt-out
    And it would be permitted if the consent is explicit

  # Common law: explicit consent meets the duty of confidence without s251 support
  Scenario: Common law: explicit consent to planning needs no section 251 support
    Given an analyst at Northgate Integrated Care Board
    And the person has given explicit consent
    When they ask Riverside Medical Practice for the GP summary for service planning
    Then sharing is permitted
    And the legal basis includes Article 9(2)(h)
    And the deciding rule is ntg-planning/explicit-consent

  # National data opt-out: a refusal is the person's choice, and consent is not suggested
  Scenario: Opt-out policy: a refusal and an opt-out leave only anonymised data
    Given an analyst at Northgate Integrated Care Board
    And the person has registered a national data opt-out
    And the person has refused consent
    When they ask Northgate Hospitals for the discharge summary for service planning
    Then sharing is not permitted
    And it would be permitted if the information is anonymised

  # National data opt-out and UK GDPR 9(2)(j): consent to research lifts the opt-out
  Scenario: Opt-out policy: explicit consent lifts the opt-out for research
    Given a researcher at Northgate University
    And the person has registered a national data opt-out
    And the person has given explicit consent
    When they ask Northgate Hospitals for the test results for research
    Then sharing is permitted
    And the legal basis includes Article 9(2)(j)
    And the deciding rule is ntg-research/explicit-consent

  # NHS Act 2006 s251 and the opt-out: CAG support never reaches over the opt-out
  Scenario: NHS Act s251: section 251 research support does not reach an opted-out person
    Given a researcher at Northgate University
    And the person has registered a national data opt-out
    And the study has section 251 support
    When they ask Northgate City Council for the social care assessment for research
    Then sharing is not permitted
    And the deciding rule is ntg-research/national-data-opt-out

  # GRA 2004 s22: consent to planning is not the person's agreement to disclose gender history
  Scenario: GRA s22: consent to planning does not open gender history
    Given an analyst at Northgate Integrated Care Board
    And the person has given explicit consent
    When they ask Northgate Hospitals for the gender history for service planning
    Then sharing is not permitted
    And the deciding rule is restriction:gender-history

  # UK GDPR 9(2)(a); common law: explicit consent to disclosure to the police
  Scenario: UK GDPR 9(2)(a): the person's explicit consent allows disclosure to the police
    Given a police officer at Northgate Constabulary
    And the person has given explicit consent
    When they ask Northgate Hospitals for the discharge summary for law enforcement
    Then sharing is permitted
    And the legal basis includes Article 9(2)(a)
    And the legal basis includes explicit consent
    And they must verify the requester's identity
    And rule ntg-police/refer-to-caldicott-guardian is overridden
    And the deciding rule is ntg-police/explicit-consent-to-disclosure

  # UK GDPR 9(2)(a): consent reaches the mental health record the person agreed to
  Scenario: UK GDPR 9(2)(a): consent to disclose a mental health record to the police
    Given a police officer at Northgate Constabulary
    And the person has given explicit consent
    When they ask Northgate Mental Health for the mental health record for law enforcement
    Then sharing is permitted
    And they must share the minimum necessary
    And the deciding rule is ntg-police/explicit-consent-to-disclosure

  # Mental Capacity Act 2005: a person who lacks capacity cannot give that consent
  Scenario: MCA 2005: consent recorded for a person who lacks capacity is no basis for the police
    Given a police officer at Northgate Constabulary
    And the person has given explicit consent
    And the person lacks capacity for this decision
    When they ask Riverside Medical Practice for the GP summary for law enforcement
    Then sharing is not permitted
    And the deciding rule is ntg-police/refer-to-caldicott-guardian

  # Common law: a refusal is respected; the Caldicott Guardian decides any public interest
  Scenario: Common law: a refusal leaves the police request with the Caldicott Guardian
    Given a police officer at Northgate Constabulary
    And the person has refused consent
    When they ask Northgate City Council for the care plan for law enforcement
    Then sharing is not permitted
    And they must consult the Caldicott Guardian
    And nothing would make it permitted

  # GRA 2004 s22: consent to the police does not take gender history with it on this route
  Scenario: GRA s22: consent to a police disclosure does not release gender history
    Given a police officer at Northgate Constabulary
    And the person has given explicit consent
    When they ask Northgate Hospitals for the gender history for law enforcement
    Then sharing is not permitted
    And the deciding rule is restriction:gender-history

  # Care Act 2014 s45; UK GDPR 6(1)(c)
  Scenario: Care Act s45: a Safeguarding Adults Board request is a legal obligation
    Given a safeguarding lead at Northgate City Council
    When they ask Northgate Hospitals for the discharge summary for a legal obligation
    Then sharing is permitted
    And the legal basis includes Article 6(1)(c)
    And the legal basis includes Care Act 2014 section 45
    And the legal basis includes legal requirement
    And the legal basis includes Schedule 1 Part 2 paragraph 6
    And they must verify the requester's identity
    And the deciding rule is ntg-sab/board-request

  # Care Act 2014 s45: the duty to comply does not wait on the person's objection
  Scenario: Care Act s45: the person's objection does not stop a Board request
    Given a safeguarding lead at Northgate City Council
    And the person has objected
    When they ask Northgate Mental Health for the mental health record for a legal obligation
    Then sharing is permitted
    And the deciding rule is ntg-sab/board-request

  # Care Act 2014 s45 and the sexual health guidance: restricted records stay closed
  Scenario: Care Act s45: a Board request does not open a sexual health record
    Given a safeguarding lead at Northgate City Council
    When they ask Northgate Hospitals for the sexual health record for a legal obligation
    Then sharing is not permitted
    And the deciding rule is restriction:sexual-health-record

  # Care Act 2014 s45: the Board asks through its safeguarding lead, not any social worker
  Scenario: Care Act s45: a social worker's own request is not a Board request
    Given a social worker at Northgate City Council
    When they ask Riverside Medical Practice for the GP summary for a legal obligation
    Then sharing is not permitted
    And no agreement covers it

  # Care Act 2014 s45: every partner must supply what the Board requires
  Scenario Outline: Care Act s45: the Board's request to each partner (<holder>)
    Given a safeguarding lead at Northgate City Council
    When they ask <holder> for the <record> for a legal obligation
    Then sharing is permitted
    And the deciding rule is ntg-sab/board-request

    Examples:
      | holder                     | record              |
      | Castle Street Surgery      | medication list     |
      | Northgate Community Health | risk assessment     |
      | Northgate Hospitals        | capacity assessment |
